/* 安心 web chat.
 *
 * Talks to Rasa's REST channel (POST {rasaUrl}/webhooks/rest/webhook with
 * {"sender", "message"}; the answer is the list of the bot's messages).
 * Screenshots and recordings go to the evidence channel (POST
 * {rasaUrl}/webhooks/evidence/upload, multipart: file, sender), whose answer
 * carries the bot's messages the same way ({"file", "messages"}).
 * Every string from the user or the bot is put on the page as text (text
 * nodes, textContent), never as HTML.
 */
(function () {
  "use strict";

  var defaults = {
    rasaUrl: location.protocol + "//" + (location.hostname || "localhost") + ":5005",
    restPath: "/webhooks/rest/webhook",
    timeoutMs: 60000,
    uploadPath: "/webhooks/evidence/upload",
    uploadTimeoutMs: 10 * 60 * 1000,
    storageKey: "anxin.chat.v1",
  };
  var CONFIG = Object.assign({}, defaults, window.ANXIN_CONFIG || {});
  var BASE = String(CONFIG.rasaUrl).replace(/\/+$/, "");
  var WEBHOOK = BASE + CONFIG.restPath;
  var HEALTH = BASE + "/";
  var GREETING = "/greet";
  var MAX_CHARS = 2000;
  var MAX_KEPT = 300;
  var TIME_GAP_MS = 5 * 60 * 1000;
  var PLACEHOLDER = "【待填写】";
  var UPLOAD = BASE + CONFIG.uploadPath;
  // Evidence files: the server checks again (channels/evidence.py, evidence/files.py).
  var MAX_UPLOAD_MB = 20;
  var MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024;
  var FILE_KINDS = {
    jpg: "image",
    jpeg: "image",
    jfif: "image",
    png: "image",
    webp: "image",
    m4a: "audio",
    mp3: "audio",
    amr: "audio",
    wav: "audio",
    aac: "audio",
  };
  var MIME_KINDS = {
    "image/jpeg": "image",
    "image/png": "image",
    "image/webp": "image",
    "audio/mp4": "audio",
    "audio/x-m4a": "audio",
    "audio/m4a": "audio",
    "audio/mpeg": "audio",
    "audio/mp3": "audio",
    "audio/amr": "audio",
    "audio/wav": "audio",
    "audio/x-wav": "audio",
    "audio/wave": "audio",
    "audio/aac": "audio",
    "audio/x-aac": "audio",
  };
  var KIND_WORDS = { image: "截图", audio: "录音" };
  // Where the bot's evidence links may point: its own /webhooks/evidence/ routes, or http(s).
  var EVIDENCE_PATH = "/webhooks/evidence/";

  // ---------------------------------------------------------------- elements
  var $ = function (id) {
    return document.getElementById(id);
  };
  var el = {
    app: $("app"),
    log: $("log"),
    logWrap: $("log-wrap"),
    typing: $("typing"),
    form: $("composer"),
    input: $("input"),
    send: $("send-button"),
    limitHint: $("limit-hint"),
    banner: $("banner"),
    bannerText: $("banner-text"),
    bannerRetry: $("banner-retry"),
    status: $("status-line"),
    newChat: $("new-chat-button"),
    close: $("close-button"),
    sheet: $("sheet"),
    sheetConfirm: $("sheet-confirm"),
    sheetCancel: $("sheet-cancel"),
    toast: $("toast"),
    attach: $("attach-button"),
    fileInput: $("file-input"),
    viewer: $("viewer"),
    viewerClose: $("viewer-close"),
    viewerFrame: $("viewer-frame"),
  };
  var embedded = new URLSearchParams(location.search).get("embed") === "1";
  var DEFAULT_STATUS = el.status.textContent;

  // ----------------------------------------------------------------- storage
  var storage = null;
  try {
    storage = window.localStorage;
    storage.getItem(CONFIG.storageKey);
  } catch (err) {
    storage = null; // private mode or blocked: the chat still works, without memory
  }

  function randomId() {
    if (window.crypto && typeof crypto.randomUUID === "function") {
      return crypto.randomUUID().replace(/-/g, "");
    }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
  }

  var counter = 0;
  function messageId() {
    counter += 1;
    return Date.now().toString(36) + "-" + counter.toString(36) + "-" + randomId().slice(0, 6);
  }

  function freshState() {
    return { v: 1, sender: "web-" + randomId(), greeted: false, messages: [] };
  }

  function loadState() {
    if (!storage) return null;
    try {
      var data = JSON.parse(storage.getItem(CONFIG.storageKey) || "null");
      if (!data || data.v !== 1 || typeof data.sender !== "string" || !Array.isArray(data.messages)) {
        return null;
      }
      data.messages = data.messages.filter(function (m) {
        return m && typeof m === "object" && (m.from === "user" || m.from === "bot");
      });
      data.messages.forEach(function (m) {
        // A request cut off by the reload may or may not have reached the bot:
        // let the user decide whether to send it again.
        if (m.status === "sending") {
          m.status = "failed";
          m.error = "interrupted";
        }
        // A file being uploaded when the page went away: its bytes are gone
        // from memory (they are never stored), so it has to be chosen again.
        if (m.file && (m.upload === "queued" || m.upload === "uploading")) {
          m.upload = "failed";
          m.error = "interrupted";
        }
        // Evidence links are checked again as they come back from storage.
        ["pack", "chart"].forEach(function (key) {
          if (!m[key]) return;
          var url = typeof m[key] === "object" ? evidenceUrl(m[key].url) : null;
          if (url) m[key].url = url;
          else delete m[key];
        });
        if (m.chart && typeof m.chart.alt !== "string") m.chart.alt = "图表";
        if (m.file && (typeof m.file !== "object" || typeof m.text !== "string")) delete m.file;
      });
      return data;
    } catch (err) {
      return null;
    }
  }

  var warnedFull = false;
  function saveState() {
    if (!storage) return;
    var attempt = function () {
      storage.setItem(
        CONFIG.storageKey,
        JSON.stringify({
          v: 1,
          sender: state.sender,
          greeted: state.greeted,
          messages: state.messages.slice(-MAX_KEPT),
        })
      );
    };
    try {
      attempt();
      return;
    } catch (err) {
      // Full: drop the Word files of older letters (their text stays), then old messages.
    }
    var letters = state.messages.filter(function (m) {
      return m.letter && m.letter.docx_base64;
    });
    letters.slice(0, -1).forEach(function (m) {
      delete m.letter.docx_base64;
    });
    try {
      attempt();
      return;
    } catch (err) {
      state.messages = state.messages.slice(-50);
    }
    try {
      attempt();
    } catch (err) {
      if (!warnedFull) {
        warnedFull = true;
        toast("本机存储空间不足，聊天记录可能无法保存");
      }
    }
  }

  var state = loadState() || freshState();

  // ------------------------------------------------------------ text helpers
  // Links: http(s) addresses and www. hosts, up to the first space or Chinese punctuation.
  var URL_SRC = "(?:https?:\\/\\/|www\\.)[^\\s<>\"'，。！？；：、（）【】《》「」“”‘’]+";
  // Phone numbers worth a tap: mobile numbers, landlines with area code,
  // 400/800 numbers, and the hotlines this bot names (emergency 110/119/120/122,
  // 123xx government lines, 95xxx bank and payment lines). Not 12321: its
  // reports go through 12321.cn or its WeChat account, not a call. Not inside
  // longer digit runs, not amounts, articles or dates ("第110条", "12378元").
  var PHONE_SRC =
    "(?<![0-9A-Za-z_*\\-.¥￥$第])(?<!(?:单号|编号|账号|卡号|尾号|工号|案号|金额)[:：]?\\s*)(?:" +
    [
      "1[3-9]\\d-\\d{4}-\\d{4}",
      "1[3-9]\\d{9}",
      "0\\d{2,3}-\\d{7,8}",
      "0\\d{2,3}-\\d{5}",
      "0\\d{9,11}",
      "[48]00-?\\d{3}-?\\d{4}",
      "95(?:017|055|118|188|384|508|511|516|518|528|533|555|558|559|561|566|568|577|580|588|595|599|766)",
      "12(?:315|333|345|348|355|356|358|363|365|366|369|377|378|381|389)",
      "11[09]",
      "12[02]",
    ].join("|") +
    ")(?![0-9A-Za-z_*]|\\s*(?:元|万|块|千|百|亿|%|％|岁|年|月|日|天|次|个|条|号|款|分|秒|米|斤|期|笔|页|人|位|倍|克))";
  var RICH = new RegExp("(" + URL_SRC + ")|(" + PHONE_SRC + ")", "g");

  // Fill `parent` with `text`, turning addresses into links and phone numbers into tel: links.
  function appendRichText(parent, text) {
    var source = String(text);
    var last = 0;
    RICH.lastIndex = 0;
    var match;
    while ((match = RICH.exec(source)) !== null) {
      var found = match[0];
      var start = match.index;
      if (match[1]) {
        // Leave trailing punctuation outside the link.
        var trimmed = found.replace(/[.,;:!?)\]}>]+$/, "");
        if (!trimmed) continue;
        found = trimmed;
      }
      if (start > last) parent.appendChild(document.createTextNode(source.slice(last, start)));
      var a = document.createElement("a");
      a.textContent = found;
      if (match[1]) {
        a.href = /^https?:/i.test(found) ? found : "https://" + found;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
      } else {
        a.href = "tel:" + found.replace(/\D/g, "");
        a.className = "tel";
        a.setAttribute("aria-label", "拨打 " + found);
      }
      parent.appendChild(a);
      last = start + found.length;
      RICH.lastIndex = last;
    }
    if (last < source.length) parent.appendChild(document.createTextNode(source.slice(last)));
  }

  // Letter text with every 【待填写】 marked.
  function appendLetterText(parent, text) {
    var parts = String(text).split(PLACEHOLDER);
    parts.forEach(function (part, i) {
      if (i > 0) {
        var mark = document.createElement("mark");
        mark.textContent = PLACEHOLDER;
        parent.appendChild(mark);
      }
      if (part) parent.appendChild(document.createTextNode(part));
    });
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  function sameDay(a, b) {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }

  function timeLabel(ts) {
    var d = new Date(ts);
    var now = new Date();
    var hm = pad(d.getHours()) + ":" + pad(d.getMinutes());
    if (sameDay(d, now)) return hm;
    var yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
    if (sameDay(d, yesterday)) return "昨天 " + hm;
    var weekAgo = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 6);
    if (d > weekAgo) return "星期" + "日一二三四五六".charAt(d.getDay()) + " " + hm;
    var md = d.getMonth() + 1 + "月" + d.getDate() + "日 " + hm;
    return d.getFullYear() === now.getFullYear() ? md : d.getFullYear() + "年" + md;
  }

  // ------------------------------------------------------------- rendering
  var userAvatar = (function () {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var head = document.createElementNS(ns, "circle");
    head.setAttribute("cx", "12");
    head.setAttribute("cy", "8.5");
    head.setAttribute("r", "4.2");
    head.setAttribute("fill", "currentColor");
    var body = document.createElementNS(ns, "path");
    body.setAttribute("d", "M3.8 21c.6-4.3 4-7 8.2-7s7.6 2.7 8.2 7z");
    body.setAttribute("fill", "currentColor");
    svg.appendChild(head);
    svg.appendChild(body);
    return svg;
  })();

  function avatar(from) {
    var div = document.createElement("div");
    div.className = "avatar avatar-" + from;
    div.setAttribute("aria-hidden", "true");
    if (from === "bot") div.textContent = "安";
    else div.appendChild(userAvatar.cloneNode(true));
    return div;
  }

  function speaker(from) {
    var span = document.createElement("span");
    span.className = "visually-hidden";
    span.textContent = from === "bot" ? "安心说：" : "我说：";
    return span;
  }

  function isShown(m) {
    return (
      !m.hidden &&
      (m.from === "user" || m.letter || m.pack || m.chart || (typeof m.text === "string" && m.text !== ""))
    );
  }

  var lastShownTs = null;

  function statusNode(m) {
    var div = document.createElement("div");
    div.className = "status";
    div.setAttribute("data-role", "status");
    if (m.status === "failed") {
      div.classList.add("failed");
      var reasons = {
        timeout: "很久没有收到回复",
        interrupted: "页面刷新时还没收到回复",
        http: "服务器没有接受这条消息",
        bad: "服务器的回复看不懂",
      };
      div.appendChild(document.createTextNode("⚠ " + (reasons[m.error] || "发送失败")));
      var retry = document.createElement("button");
      retry.type = "button";
      retry.textContent = "重发";
      retry.setAttribute("aria-label", "重发这条消息");
      retry.addEventListener("click", function () {
        m.status = "queued";
        delete m.error;
        saveState();
        updateStatus(m);
        pump();
      });
      div.appendChild(retry);
    } else if (m.status === "queued" && offline.active) {
      div.textContent = "等待连接，连上后自动发送";
    } else if (m.status === "queued" || m.status === "sending") {
      div.textContent = "发送中…";
    } else {
      return null;
    }
    return div;
  }

  function updateStatus(m) {
    var row = el.log.querySelector('[data-id="' + m.id + '"]');
    if (!row) return;
    var old = row.querySelector('[data-role="status"]');
    var fresh = statusNode(m);
    if (old) old.remove();
    if (fresh) row.querySelector(".stack").appendChild(fresh);
  }

  function letterCard(m) {
    var letter = m.letter;
    var card = document.createElement("section");
    card.className = "letter-card";
    card.setAttribute("aria-label", "文书：" + letter.title);

    var head = document.createElement("div");
    head.className = "letter-head";
    var icon = document.createElement("div");
    icon.className = "letter-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = letter.docx_base64 ? "W" : "TXT";
    var names = document.createElement("div");
    var kind = document.createElement("p");
    kind.className = "letter-kind";
    kind.textContent = letter.label || "文书";
    var title = document.createElement("h3");
    title.className = "letter-title";
    title.textContent = letter.title;
    names.appendChild(kind);
    names.appendChild(title);
    head.appendChild(icon);
    head.appendChild(names);
    card.appendChild(head);

    var body = document.createElement("div");
    body.className = "letter-body";
    body.id = "letter-body-" + m.id;
    appendLetterText(body, letter.body);
    card.appendChild(body);

    var more = document.createElement("button");
    more.type = "button";
    more.className = "letter-more";
    more.textContent = "展开全文";
    more.setAttribute("aria-expanded", "false");
    more.setAttribute("aria-controls", body.id);
    more.addEventListener("click", function () {
      var open = body.classList.toggle("expanded");
      more.textContent = open ? "收起" : "展开全文";
      more.setAttribute("aria-expanded", String(open));
    });
    card.appendChild(more);

    var gaps = letter.body.split(PLACEHOLDER).length - 1;
    if (gaps > 0) {
      var note = document.createElement("p");
      note.className = "letter-note";
      note.textContent = "还有 " + gaps + " 处" + PLACEHOLDER + "：提交前请补上，或删去不适用的部分。";
      card.appendChild(note);
    }

    var actions = document.createElement("div");
    actions.className = "letter-actions";
    var addAction = function (label, aria, handler, role) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.setAttribute("aria-label", aria);
      b.setAttribute("data-action", role);
      b.addEventListener("click", handler);
      actions.appendChild(b);
    };
    addAction("复制", "复制全文：" + letter.title, function () {
      copyText(letter.title + "\n\n" + letter.body);
    }, "copy");
    if (letter.docx_base64) {
      addAction("下载 Word", "下载 Word 文档：" + letter.title, function () {
        downloadDocx(letter);
      }, "docx");
    }
    addAction("下载 TXT", "下载纯文本：" + letter.title, function () {
      downloadTxt(letter);
    }, "txt");
    card.appendChild(actions);
    return card;
  }

  // ------------------------------------------------------ evidence: files
  // A file the user sent: a thumbnail (this page only: an object URL, never
  // stored) or an icon, the placeholder text that the history keeps, and
  // while it uploads a progress bar.
  function fileBubble(m) {
    var bubble = document.createElement("div");
    bubble.className = "bubble bubble-user bubble-file";
    bubble.appendChild(speaker("user"));
    var preview = uploads.previews[m.id];
    if (m.file.kind === "image" && preview) {
      var open = document.createElement("button");
      open.type = "button";
      open.className = "thumb-button";
      open.setAttribute("aria-label", "查看大图：" + m.file.name);
      var img = document.createElement("img");
      img.className = "file-thumb";
      img.src = preview;
      img.alt = "截图：" + m.file.name;
      open.appendChild(img);
      open.addEventListener("click", function () {
        openViewer(preview, img.alt);
      });
      img.addEventListener("error", function () {
        open.remove(); // not a picture after all (the server will say so): the icon is enough
      });
      bubble.appendChild(open);
    }
    var line = document.createElement("div");
    line.className = "file-line";
    var icon = document.createElement("span");
    icon.className = "file-icon file-icon-" + m.file.kind;
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = m.file.kind === "audio" ? "♪" : "图";
    var label = document.createElement("span");
    label.className = "file-label";
    label.textContent = m.text;
    var size = document.createElement("span");
    size.className = "file-size";
    size.textContent = formatSize(m.file.size);
    line.appendChild(icon);
    line.appendChild(label);
    line.appendChild(size);
    bubble.appendChild(line);
    if (m.upload === "queued" || m.upload === "uploading") {
      var bar = document.createElement("div");
      bar.className = "progress";
      bar.setAttribute("role", "progressbar");
      bar.setAttribute("aria-label", "上传进度：" + m.file.name);
      bar.setAttribute("aria-valuemin", "0");
      bar.setAttribute("aria-valuemax", "100");
      var fill = document.createElement("span");
      fill.className = "progress-fill";
      bar.appendChild(fill);
      bubble.appendChild(bar);
      paintProgress(bar, uploads.progress[m.id] || 0);
    }
    return bubble;
  }

  function paintProgress(bar, percent) {
    bar.setAttribute("aria-valuenow", String(percent));
    bar.firstChild.style.width = percent + "%";
  }

  function fileStatusNode(m) {
    var div = document.createElement("div");
    div.className = "status";
    div.setAttribute("data-role", "status");
    var percent = uploads.progress[m.id] || 0;
    if (m.upload === "queued") {
      div.textContent = "排队中，前一个文件传完就发";
    } else if (m.upload === "uploading") {
      div.textContent = percent < 100 ? "上传中 " + percent + "%" : "已传完，安心正在查看…";
    } else if (m.upload === "refused" || m.upload === "failed") {
      div.classList.add("failed");
      var reasons = {
        refused: "没有收下",
        network: "网络断了，文件没有发出",
        timeout: "传了很久也没传完",
        http: "服务器没有收下这个文件",
        bad: "服务器的回复看不懂",
        interrupted: "页面刷新时还没传完，请重新选择这个文件",
      };
      div.appendChild(document.createTextNode("⚠ " + (reasons[m.error] || reasons.network)));
      if (m.error !== "interrupted" && m.retry !== false && uploads.files[m.id]) {
        var retry = document.createElement("button");
        retry.type = "button";
        retry.textContent = "重试";
        retry.setAttribute("aria-label", "重新上传 " + m.file.name);
        retry.addEventListener("click", function () {
          m.upload = "queued";
          delete m.error;
          delete m.retry;
          uploads.progress[m.id] = 0;
          saveState();
          redrawFile(m);
          pumpUploads();
        });
        div.appendChild(retry);
      }
    } else {
      return null;
    }
    return div;
  }

  // Redraw a file's bubble and status in place (progress, done, failed).
  function redrawFile(m) {
    var row = el.log.querySelector('[data-id="' + m.id + '"]');
    if (!row) return;
    var stack = row.querySelector(".stack");
    var bar = stack.querySelector(".progress");
    var done = m.upload !== "queued" && m.upload !== "uploading";
    if (bar && !done) {
      paintProgress(bar, uploads.progress[m.id] || 0);
    } else {
      var old = stack.querySelector(".bubble-file");
      if (old) stack.replaceChild(fileBubble(m), old);
    }
    var status = stack.querySelector('[data-role="status"]');
    var fresh = fileStatusNode(m);
    if (status && fresh && status.textContent === fresh.textContent && !fresh.querySelector("button")) return;
    if (status) status.remove();
    if (fresh) stack.appendChild(fresh);
  }

  function formatSize(bytes) {
    if (!(bytes >= 0)) return "";
    if (bytes < 1024 * 1024) return Math.max(1, Math.round(bytes / 1024)) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  // ------------------------------------------- evidence: the bot's payloads
  // A link the bot gave for evidence, as an absolute URL, or null: http(s),
  // or a path under /webhooks/evidence/ on the Rasa server.
  function evidenceUrl(raw) {
    if (typeof raw !== "string") return null;
    var value = raw.trim();
    if (!value || /[\s\\]/.test(value)) return null;
    var relative = value.indexOf(EVIDENCE_PATH) === 0;
    if (!relative && !/^https?:\/\//i.test(value)) return null;
    try {
      var url = new URL(relative ? BASE + value : value);
      if (url.protocol !== "http:" && url.protocol !== "https:") return null;
      // No "/../" out of it (the Rasa base may sit under a path of its own).
      if (relative && url.href.indexOf(new URL(BASE + EVIDENCE_PATH).href) !== 0) return null;
      return url.href;
    } catch (err) {
      return null;
    }
  }

  function packCard(m) {
    var card = document.createElement("section");
    card.className = "pack-card";
    card.setAttribute("aria-label", "证据包");
    var head = document.createElement("div");
    head.className = "pack-head";
    var icon = document.createElement("div");
    icon.className = "pack-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = "ZIP";
    var names = document.createElement("div");
    var title = document.createElement("h3");
    title.className = "pack-title";
    title.textContent = "证据包";
    var what = document.createElement("p");
    what.className = "pack-what";
    what.textContent = "截图和录音原件、时间线、来电图表、核对说明";
    names.appendChild(title);
    names.appendChild(what);
    head.appendChild(icon);
    head.appendChild(names);
    card.appendChild(head);

    var note = document.createElement("p");
    note.className = "pack-note";
    note.setAttribute("role", "status");
    note.hidden = true;
    card.appendChild(note);

    var link = document.createElement("a");
    link.className = "pack-download";
    link.href = m.pack.url;
    link.rel = "noopener noreferrer";
    link.setAttribute("data-action", "pack");
    link.textContent = "下载证据包 (.zip)";
    link.addEventListener("click", function (e) {
      e.preventDefault();
      downloadPack(m.pack.url, link, note);
    });
    card.appendChild(link);
    return card;
  }

  function dayStamp() {
    var d = new Date();
    return "" + d.getFullYear() + pad(d.getMonth() + 1) + pad(d.getDate());
  }

  // Fetched rather than followed, so that an expired link's sentence shows
  // here and the chat stays on the screen.
  function downloadPack(url, link, note) {
    if (link.getAttribute("aria-busy") === "true") return;
    link.setAttribute("aria-busy", "true");
    link.textContent = "正在准备证据包…";
    note.hidden = true;
    var say = function (text) {
      note.textContent = text;
      note.hidden = false;
    };
    fetch(url, { cache: "no-store", credentials: "omit" })
      .then(
        function (response) {
          if (response.ok) {
            return response.blob().then(function (blob) {
              saveBlob(blob, "anxin-evidence-" + dayStamp() + ".zip");
              toast("证据包已下载");
            });
          }
          return response
            .json()
            .catch(function () {
              return {};
            })
            .then(function (data) {
              say(
                data && typeof data.error === "string" && data.error.trim()
                  ? data.error
                  : "证据包没能下载（服务器没有给）。请跟我说“导出证据包”，重新拿一个链接。"
              );
            });
        },
        function () {
          if (new URL(url).origin !== new URL(BASE).origin) {
            // Perhaps only this page may not read it: let the browser fetch it itself.
            window.open(url, "_blank", "noopener");
            return;
          }
          say("网络不通，证据包没有下载下来。请连上网络后再点一次。");
        }
      )
      .finally(function () {
        link.removeAttribute("aria-busy");
        link.textContent = "下载证据包 (.zip)";
      });
  }

  // Pictures from the Rasa server: the page may only show images of its own
  // origin or blob: ones (Content-Security-Policy), so they are fetched.
  var imageCache = {};

  function loadImage(url) {
    if (imageCache[url]) return imageCache[url];
    var sameOrigin = new URL(url).origin === location.origin;
    var promise = sameOrigin
      ? Promise.resolve(url)
      : fetch(url, { cache: "no-store", credentials: "omit" }).then(function (response) {
          if (!response.ok) throw new Error("http " + response.status);
          return response.blob().then(function (blob) {
            if (!/^image\//.test(blob.type)) throw new Error("not an image");
            return URL.createObjectURL(blob);
          });
        });
    imageCache[url] = promise;
    promise.catch(function () {
      delete imageCache[url]; // try again next time it is shown
    });
    return promise;
  }

  function chartCard(m) {
    var alt = m.chart.alt;
    var figure = document.createElement("figure");
    figure.className = "chart-card";
    var open = document.createElement("button");
    open.type = "button";
    open.className = "chart-open";
    open.setAttribute("aria-label", "查看大图：" + alt);
    open.disabled = true;
    var img = document.createElement("img");
    img.className = "chart-img";
    img.alt = alt;
    open.appendChild(img);
    figure.appendChild(open);
    var caption = document.createElement("figcaption");
    caption.textContent = alt;
    figure.appendChild(caption);
    var failed = function () {
      figure.classList.add("chart-failed");
      open.remove();
      var note = document.createElement("p");
      note.className = "chart-note";
      note.textContent = "图没能显示（链接可能已经过期）。说“看看记录”可以重新生成。";
      figure.insertBefore(note, caption);
    };
    loadImage(m.chart.url).then(function (src) {
      img.addEventListener("load", function () {
        open.disabled = false;
      });
      img.addEventListener("error", failed);
      img.src = src;
      open.addEventListener("click", function () {
        openViewer(src, alt);
      });
    }, failed);
    return figure;
  }

  // ----------------------------------------------------- the picture viewer
  var viewerReturn = null;

  function openViewer(src, alt) {
    viewerReturn = document.activeElement;
    el.viewerFrame.textContent = "";
    var img = document.createElement("img");
    img.src = src;
    img.alt = alt;
    // Tap the picture: its real size (scroll around it); tap again: fit the screen.
    img.addEventListener("click", function () {
      el.viewerFrame.classList.toggle("actual");
    });
    el.viewerFrame.classList.remove("actual");
    el.viewerFrame.appendChild(img);
    el.viewer.setAttribute("aria-label", "查看大图：" + alt);
    el.viewer.hidden = false;
    el.viewerClose.focus();
  }

  function closeViewer() {
    el.viewer.hidden = true;
    el.viewerFrame.textContent = "";
    if (viewerReturn && viewerReturn.focus) viewerReturn.focus();
  }

  function appendRow(m) {
    if (!isShown(m)) return;
    if (lastShownTs === null || m.ts - lastShownTs > TIME_GAP_MS) {
      var t = document.createElement("div");
      t.className = "time";
      t.textContent = timeLabel(m.ts);
      el.log.appendChild(t);
    }
    lastShownTs = m.ts;

    var row = document.createElement("div");
    row.className = "row row-" + m.from;
    row.setAttribute("data-id", m.id);
    row.setAttribute("data-from", m.from);
    row.appendChild(avatar(m.from));
    var stack = document.createElement("div");
    stack.className = "stack";
    if (m.letter) {
      stack.appendChild(speaker(m.from));
      stack.appendChild(letterCard(m));
    } else if (m.file) {
      stack.appendChild(fileBubble(m));
    } else if (m.pack) {
      stack.appendChild(speaker(m.from));
      stack.appendChild(packCard(m));
    } else if (m.chart) {
      stack.appendChild(speaker(m.from));
      stack.appendChild(chartCard(m));
    } else {
      var bubble = document.createElement("div");
      bubble.className = "bubble bubble-" + m.from;
      bubble.appendChild(speaker(m.from));
      appendRichText(bubble, m.text);
      stack.appendChild(bubble);
    }
    row.appendChild(stack);
    if (m.from === "user") {
      var status = m.file ? fileStatusNode(m) : statusNode(m);
      if (status) stack.appendChild(status);
    }
    el.log.appendChild(row);
  }

  // Quick replies: the buttons of the bot's latest turn, shown under it.
  function refreshChips() {
    var old = el.log.querySelector(".chips");
    if (old) old.remove();
    var buttons = [];
    for (var i = state.messages.length - 1; i >= 0; i--) {
      var m = state.messages[i];
      if (m.from === "user" && !m.hidden) break;
      if (m.from === "user") continue;
      if (Array.isArray(m.buttons)) buttons = m.buttons.concat(buttons);
    }
    if (!buttons.length) return;
    var group = document.createElement("div");
    group.className = "chips";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "快捷回复");
    buttons.forEach(function (b) {
      var chip = document.createElement("button");
      chip.type = "button";
      chip.className = "chip";
      chip.textContent = b.title;
      chip.addEventListener("click", function () {
        sendUser(b.title, b.payload);
        el.input.focus();
      });
      group.appendChild(chip);
    });
    el.log.appendChild(group);
  }

  function nearBottom() {
    var w = el.logWrap;
    return w.scrollHeight - w.scrollTop - w.clientHeight < 120;
  }

  function scrollToBottom() {
    el.logWrap.scrollTop = el.logWrap.scrollHeight;
  }

  function renderAll() {
    el.log.textContent = "";
    lastShownTs = null;
    state.messages.forEach(appendRow);
    refreshChips();
    scrollToBottom();
  }

  function addMessages(list, stick) {
    var follow = stick || nearBottom();
    list.forEach(function (m) {
      state.messages.push(m);
      appendRow(m);
    });
    if (state.messages.length > MAX_KEPT) state.messages = state.messages.slice(-MAX_KEPT);
    refreshChips();
    saveState();
    if (follow) scrollToBottom();
  }

  // -------------------------------------------------------------- feedback
  var toastTimer = null;
  function toast(text) {
    el.toast.textContent = text;
    el.toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () {
      el.toast.hidden = true;
    }, 2200);
  }

  function setTyping(on) {
    var follow = nearBottom();
    on = !!on || uploads.waiting; // the bot is also "typing" while it reads an uploaded file
    el.typing.hidden = !on;
    if (!offline.active) el.status.textContent = on ? "对方正在输入…" : DEFAULT_STATUS;
    if (on && follow) scrollToBottom();
  }

  // ------------------------------------------------------------ connection
  var offline = { active: false, attempt: 0, timer: null, probing: false };
  var bannerTimer = null;

  function showBanner(text, ok) {
    clearTimeout(bannerTimer);
    el.bannerText.textContent = text;
    el.banner.classList.toggle("ok", !!ok);
    el.banner.hidden = false;
    if (ok) {
      bannerTimer = setTimeout(function () {
        el.banner.hidden = true;
      }, 2500);
    }
  }

  function refreshQueuedStatuses() {
    state.messages.forEach(function (m) {
      if (m.from === "user" && m.status === "queued") updateStatus(m);
    });
  }

  function goOffline() {
    var first = !offline.active;
    offline.active = true;
    setTyping(false);
    el.status.textContent = "未连接";
    if (first) {
      offline.attempt = 0;
      refreshQueuedStatuses();
    }
    scheduleProbe();
  }

  function scheduleProbe() {
    clearTimeout(offline.timer);
    var delay = Math.min(1000 * Math.pow(2, offline.attempt), 15000);
    // The same words on every try, so that screen readers say it once.
    var text = "连不上安心的服务器（网络断开或服务器没有启动）。正在自动重连，您的消息会在连上后发出。";
    if (el.banner.hidden || el.bannerText.textContent !== text) showBanner(text);
    offline.timer = setTimeout(probe, delay);
  }

  function healthy() {
    var ctl = new AbortController();
    var timer = setTimeout(function () {
      ctl.abort();
    }, 5000);
    return fetch(HEALTH, { cache: "no-store", credentials: "omit", signal: ctl.signal })
      .then(function (r) {
        return r.ok;
      })
      .catch(function () {
        return false;
      })
      .finally(function () {
        clearTimeout(timer);
      });
  }

  function probe(manual) {
    if (offline.probing) return;
    offline.probing = true;
    clearTimeout(offline.timer);
    healthy().then(function (ok) {
      offline.probing = false;
      if (ok) {
        goOnline();
      } else {
        offline.attempt += 1;
        if (manual === true) toast("还是连不上，稍后会自动再试");
        scheduleProbe();
      }
    });
  }

  function goOnline() {
    var was = offline.active;
    offline.active = false;
    clearTimeout(offline.timer);
    el.status.textContent = DEFAULT_STATUS;
    if (was) {
      showBanner("已重新连上安心", true);
      refreshQueuedStatuses();
    }
    pump();
  }

  // ---------------------------------------------------------------- sending
  function SendError(kind, status) {
    this.kind = kind;
    this.status = status;
  }

  function post(text) {
    var ctl = new AbortController();
    var timer = setTimeout(function () {
      ctl.abort();
    }, CONFIG.timeoutMs);
    return fetch(WEBHOOK, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: state.sender, message: text }),
      cache: "no-store",
      credentials: "omit",
      signal: ctl.signal,
    })
      .catch(function () {
        throw new SendError(ctl.signal.aborted ? "timeout" : "network");
      })
      .then(function (response) {
        // A proxy in front that cannot reach Rasa: the message did not arrive, send it again later.
        if (response.status === 502 || response.status === 503) {
          throw new SendError("network", response.status);
        }
        if (!response.ok) throw new SendError("http", response.status);
        return response.json().catch(function () {
          throw new SendError(ctl.signal.aborted ? "timeout" : "bad");
        });
      })
      .then(function (data) {
        if (!Array.isArray(data)) throw new SendError("bad");
        return data;
      })
      .finally(function () {
        clearTimeout(timer);
      });
  }

  var inflight = null;

  // Send queued messages one at a time, in order.
  function pump() {
    if (inflight || offline.active) return;
    var m = null;
    for (var i = 0; i < state.messages.length; i++) {
      var c = state.messages[i];
      if (c.from === "user" && c.status === "queued") {
        m = c;
        break;
      }
    }
    if (!m) {
      setTyping(false);
      return;
    }
    inflight = m;
    var sender = state.sender;
    m.status = "sending";
    saveState();
    updateStatus(m);
    setTyping(true);
    var done = function () {
      if (inflight === m) inflight = null;
    };
    post(m.send)
      .then(function (replies) {
        done();
        if (state.sender !== sender) return; // a new conversation started meanwhile
        m.status = "sent";
        updateStatus(m);
        receive(replies);
      })
      .catch(function (err) {
        done();
        if (state.sender !== sender) return;
        if (err && err.kind === "network") {
          m.status = "queued";
          saveState();
          updateStatus(m);
          goOffline();
          return;
        }
        m.status = "failed";
        m.error = (err && err.kind) || "bad";
        saveState();
        updateStatus(m);
      })
      .then(function () {
        pump();
      });
  }

  function sendUser(text, payload) {
    var shown = String(text).trim();
    if (!shown) return;
    if (shown.length > MAX_CHARS) shown = shown.slice(0, MAX_CHARS);
    addMessages(
      [{ id: messageId(), from: "user", text: shown, send: payload || shown, ts: Date.now(), status: "queued" }],
      true
    );
    pump();
  }

  function greet() {
    state.greeted = true;
    state.messages.push({ id: messageId(), from: "user", hidden: true, send: GREETING, ts: Date.now(), status: "queued" });
    saveState();
    pump();
  }

  // ---------------------------------------------------- uploading evidence
  var uploads = {
    files: {}, // message id → File, this page only (never stored)
    previews: {}, // message id → object URL of an image's thumbnail
    progress: {}, // message id → percent sent
    xhr: null,
    waiting: false, // the file is sent; the bot is reading it
  };

  function extensionOf(name) {
    var match = /\.([A-Za-z0-9]+)$/.exec(String(name || ""));
    return match ? match[1].toLowerCase() : "";
  }

  // {kind: "image" | "audio"}, or {problem: a kind sentence saying why the file is not taken}.
  function checkFile(file) {
    var name = file.name || "这个文件";
    var ext = extensionOf(file.name);
    var type = String(file.type || "").toLowerCase();
    var own = function (map, key) {
      return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : null;
    };
    var kind = own(FILE_KINDS, ext) || own(MIME_KINDS, type);
    if (!kind) {
      if (ext === "pdf" || type === "application/pdf") {
        return { problem: "“" + name + "”是 PDF 文件，不是图片。请把要保存的那一页截个图，再发截图。" };
      }
      if (ext === "heic" || ext === "heif" || /^image\/hei[cf]$/.test(type)) {
        return {
          problem:
            "“" + name + "”是苹果手机的 HEIC 照片，我暂时读不了。请在手机上截一张图再发，" +
            "或在“设置 > 相机 > 格式”里选“兼容性最佳”。",
        };
      }
      return {
        problem:
          "“" + name + "”这种文件我收不了。可以发截图或照片（jpg、png、webp），" +
          "或者录音（m4a、mp3、amr、wav、aac）。",
      };
    }
    if (!file.size) {
      return { problem: "“" + name + "”是空的（0 字节），可能还没存好。请重新选一次原图或原录音。" };
    }
    if (file.size > MAX_UPLOAD_BYTES) {
      return {
        problem:
          "“" + name + "”有 " + formatSize(file.size) + "，超过了 " + MAX_UPLOAD_MB + " MB，收不下。" +
          (kind === "audio" ? "录音太长的话，可以在手机上剪成几段再分开发。" : "截图请直接发原图，照片可以先缩小一些再发。"),
      };
    }
    return { kind: kind };
  }

  // The bot's voice, from this page: said here, not sent anywhere.
  function localReply(text) {
    return { id: messageId(), from: "bot", local: true, text: text, ts: Date.now() };
  }

  // Files chosen (several at once are sent one after another, in this order).
  function addFiles(list) {
    var files = Array.prototype.slice.call(list || []);
    files.forEach(function (file) {
      var checked = checkFile(file);
      if (checked.problem) {
        addMessages([localReply(checked.problem)], true);
        return;
      }
      var name = String(file.name || (checked.kind === "audio" ? "录音" : "截图")).slice(0, 120);
      var m = {
        id: messageId(),
        from: "user",
        // What the history keeps: a placeholder, never the bytes.
        text: "[" + KIND_WORDS[checked.kind] + "] " + name,
        file: { name: name, kind: checked.kind, size: file.size },
        upload: "queued",
        ts: Date.now(),
      };
      uploads.files[m.id] = file;
      uploads.progress[m.id] = 0;
      if (checked.kind === "image" && window.URL && URL.createObjectURL) {
        uploads.previews[m.id] = URL.createObjectURL(file);
      }
      addMessages([m], true);
    });
    pumpUploads();
  }

  function pumpUploads() {
    if (uploads.xhr) return;
    for (var i = 0; i < state.messages.length; i++) {
      var m = state.messages[i];
      if (m.file && m.upload === "queued" && uploads.files[m.id]) {
        startUpload(m);
        return;
      }
    }
  }

  function startUpload(m) {
    var sender = state.sender;
    var file = uploads.files[m.id];
    var form = new FormData();
    form.append("sender", sender);
    form.append("file", file, m.file.name);
    var xhr = new XMLHttpRequest();
    uploads.xhr = xhr;
    m.upload = "uploading";
    uploads.progress[m.id] = 0;
    saveState();
    redrawFile(m);

    var settle = function (outcome) {
      if (uploads.xhr !== xhr) return; // cancelled: a new conversation started
      uploads.xhr = null;
      uploads.waiting = false;
      if (state.sender !== sender) return;
      if (outcome.messages) {
        m.upload = "done";
        delete m.error;
        delete m.retry;
        delete uploads.files[m.id];
      } else {
        m.upload = outcome.refused ? "refused" : "failed";
        m.error = outcome.refused ? "refused" : outcome.error;
        m.retry = outcome.retry !== false;
        if (!m.retry) delete uploads.files[m.id]; // the same bytes would be refused again
      }
      saveState();
      redrawFile(m);
      if (outcome.messages) receive(outcome.messages);
      if (outcome.refused) addMessages([localReply(outcome.refused)], false);
      setTyping(!!inflight);
      pumpUploads();
    };

    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable || uploads.xhr !== xhr) return;
      var percent = Math.min(99, Math.floor((e.loaded * 100) / e.total));
      if (percent === uploads.progress[m.id]) return;
      uploads.progress[m.id] = percent;
      redrawFile(m);
    });
    xhr.upload.addEventListener("load", function () {
      if (uploads.xhr !== xhr) return;
      uploads.progress[m.id] = 100;
      uploads.waiting = true;
      redrawFile(m);
      setTyping(true);
    });
    xhr.addEventListener("load", function () {
      var data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch (err) {
        data = null;
      }
      var status = xhr.status;
      if (status === 502 || status === 503 || status === 504) {
        settle({ error: "network" }); // a proxy that cannot reach Rasa: try again later
      } else if (status >= 200 && status < 300) {
        settle(data && Array.isArray(data.messages) ? { messages: data.messages } : { error: "bad" });
      } else if (data && typeof data.error === "string" && data.error.trim()) {
        // The server's own sentence; "wait and send again" (429) and its own trouble (5xx) may pass.
        settle({ refused: data.error, retry: status === 429 || status >= 500 });
      } else {
        settle({ error: "http" });
      }
    });
    xhr.addEventListener("error", function () {
      settle({ error: "network" });
    });
    xhr.addEventListener("timeout", function () {
      settle({ error: "timeout" });
    });
    xhr.open("POST", UPLOAD);
    xhr.timeout = CONFIG.uploadTimeoutMs;
    xhr.send(form);
  }

  // A new conversation (or erased data): stop the upload, forget the files.
  function resetUploads() {
    var xhr = uploads.xhr;
    uploads.xhr = null;
    uploads.waiting = false;
    if (xhr) xhr.abort();
    Object.keys(uploads.previews).forEach(function (id) {
      URL.revokeObjectURL(uploads.previews[id]);
    });
    uploads.files = {};
    uploads.previews = {};
    uploads.progress = {};
  }

  // ------------------------------------------------------------ bot replies
  function cleanButtons(buttons) {
    if (!Array.isArray(buttons)) return [];
    return buttons
      .filter(function (b) {
        return b && typeof b.title === "string" && b.title.trim();
      })
      .map(function (b) {
        return { title: b.title, payload: typeof b.payload === "string" && b.payload ? b.payload : b.title };
      });
  }

  function cleanFilename(name, fallback) {
    var base = String(name || "")
      .replace(/\.(docx|txt)$/i, "")
      .replace(/[\\/:*?"<>|\u0000-\u001f]+/g, "_")
      .replace(/^[.\s]+|[.\s]+$/g, "")
      .slice(0, 80);
    return base || fallback;
  }

  function cleanLetter(custom) {
    // The letter message carries its own label (letters/message.py): no list of kinds here.
    var label = typeof custom.label === "string" && custom.label.trim() ? custom.label.trim() : "";
    var title = typeof custom.title === "string" && custom.title.trim() ? custom.title : label || "文书";
    var docx = typeof custom.docx_base64 === "string" && /^[A-Za-z0-9+/=\s]+$/.test(custom.docx_base64) ? custom.docx_base64 : null;
    var letter = {
      kind: typeof custom.kind === "string" ? custom.kind : "",
      label: label,
      title: title,
      body: String(custom.body),
      filename: cleanFilename(custom.filename, cleanFilename(title, "letter")),
    };
    if (docx) letter.docx_base64 = docx.replace(/\s+/g, "");
    return letter;
  }

  function receive(replies) {
    var now = Date.now();
    var isLetter = function (r) {
      return r && r.custom && r.custom.type === "letter" && typeof r.custom.body === "string";
    };
    var customUrl = function (r, type) {
      return r.custom && typeof r.custom === "object" && r.custom.type === type ? evidenceUrl(r.custom.url) : null;
    };
    // The pack's link is also in the bot's words (for channels without cards):
    // here the card's button stands for it.
    var packLinks = replies
      .filter(function (r) {
        return r && customUrl(r, "evidence_pack");
      })
      .map(function (r) {
        return r.custom.url.trim();
      });
    var out = [];
    replies.forEach(function (r) {
      if (!r || typeof r !== "object") return;
      var buttons = cleanButtons(r.buttons);
      var m = { id: messageId(), from: "bot", ts: now };
      if (buttons.length) m.buttons = buttons;
      var packUrl = customUrl(r, "evidence_pack");
      var chartUrl = customUrl(r, "chart");
      if (isLetter(r)) {
        m.letter = cleanLetter(r.custom);
      } else if (packUrl) {
        m.pack = { url: packUrl };
      } else if (chartUrl) {
        var alt = typeof r.custom.alt === "string" ? r.custom.alt.trim().slice(0, 200) : "";
        m.chart = { url: chartUrl, alt: alt || "图表" };
      } else if (typeof r.text === "string" && r.text.trim()) {
        m.text = packLinks.reduce(function (text, link) {
          return text.split(link).join("（点下面的“下载证据包”）");
        }, r.text);
      } else if (typeof r.image === "string" && /^https?:\/\//i.test(r.image)) {
        m.text = "图片：" + r.image;
      } else if (r.custom && typeof r.custom.text === "string" && r.custom.text.trim()) {
        m.text = r.custom.text;
      } else if (buttons.length) {
        m.text = "";
      } else {
        return;
      }
      out.push(m);
    });
    var erased = replies.some(function (r) {
      return r && r.custom && r.custom.type === "data_erased";
    });
    if (erased) {
      forgetHere(out);
      return;
    }
    addMessages(out, false);
  }

  // The bot erased this user's data ("删除我的数据"): forget the conversation on
  // this device too, keeping only the bot's confirmation, under a new sender id.
  function forgetHere(keep) {
    resetUploads();
    state = freshState();
    state.greeted = true;
    state.messages = keep;
    saveState();
    renderAll();
    toast("这台设备上的聊天记录也已清除");
  }

  // ------------------------------------------------------- copy & download
  function copyText(text) {
    var fallback = function () {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (err) {
        ok = false;
      }
      area.remove();
      toast(ok ? "已复制全文" : "复制失败：请长按文字手动复制");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () {
        toast("已复制全文");
      }, fallback);
    } else {
      fallback();
    }
  }

  function saveBlob(blob, name) {
    var url = URL.createObjectURL(blob);
    var a = document.createElement("a");
    a.href = url;
    a.download = name;
    a.rel = "noopener";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () {
      URL.revokeObjectURL(url);
    }, 30000);
  }

  function downloadDocx(letter) {
    try {
      var raw = atob(letter.docx_base64);
      var bytes = new Uint8Array(raw.length);
      for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
      saveBlob(
        new Blob([bytes], { type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document" }),
        letter.filename + ".docx"
      );
      toast("已下载 Word 文档");
    } catch (err) {
      toast("Word 文档损坏，已改为下载纯文本");
      downloadTxt(letter);
    }
  }

  function downloadTxt(letter) {
    // A byte-order mark and CRLF line ends so that Windows Notepad shows it right.
    var text = "\ufeff" + (letter.title + "\n\n" + letter.body).replace(/\r?\n/g, "\r\n");
    saveBlob(new Blob([text], { type: "text/plain;charset=utf-8" }), letter.filename + ".txt");
  }

  // ------------------------------------------------------------------ input
  var composing = false;

  function refreshSend() {
    el.send.disabled = !el.input.value.trim();
    el.limitHint.hidden = el.input.value.length < MAX_CHARS;
  }

  function autosize() {
    el.input.style.height = "auto";
    el.input.style.height = Math.min(el.input.scrollHeight, 160) + "px";
  }

  function submit() {
    var text = el.input.value;
    if (!text.trim()) return;
    el.input.value = "";
    autosize();
    refreshSend();
    sendUser(text);
  }

  el.input.addEventListener("compositionstart", function () {
    composing = true;
  });
  el.input.addEventListener("compositionend", function () {
    composing = false;
  });
  el.input.addEventListener("input", function () {
    autosize();
    refreshSend();
  });
  el.input.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || e.shiftKey || e.altKey) return;
    // Enter that confirms a Chinese IME candidate must not send (keyCode 229: Safari).
    if (e.isComposing || composing || e.keyCode === 229) return;
    e.preventDefault();
    submit();
  });
  el.form.addEventListener("submit", function (e) {
    e.preventDefault();
    submit();
    el.input.focus();
  });

  // Evidence: the attach button, the file chooser, and a pasted screenshot.
  el.attach.addEventListener("click", function () {
    el.fileInput.click();
  });
  el.fileInput.addEventListener("change", function () {
    var files = el.fileInput.files;
    if (files && files.length) addFiles(files);
    el.fileInput.value = ""; // the same file may be chosen again
  });
  el.input.addEventListener("paste", function (e) {
    var files = e.clipboardData && e.clipboardData.files;
    if (files && files.length) {
      e.preventDefault();
      addFiles(files);
    }
  });

  // The picture viewer.
  el.viewerClose.addEventListener("click", closeViewer);
  el.viewer.addEventListener("click", function (e) {
    if (e.target === el.viewer || e.target === el.viewerFrame) closeViewer();
  });
  el.viewer.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      e.stopPropagation();
      closeViewer();
    } else if (e.key === "Tab") {
      e.preventDefault(); // one button: the focus stays on it
      el.viewerClose.focus();
    }
  });

  // ---------------------------------------------------------------- 新对话
  var sheetReturn = null;

  function openSheet() {
    sheetReturn = document.activeElement;
    el.sheet.hidden = false;
    el.sheetCancel.focus();
  }

  function closeSheet() {
    el.sheet.hidden = true;
    if (sheetReturn && sheetReturn.focus) sheetReturn.focus();
  }

  function newConversation() {
    resetUploads();
    state = freshState();
    inflight = null;
    saveState();
    renderAll();
    setTyping(false);
    greet();
  }

  el.newChat.addEventListener("click", openSheet);
  el.sheetCancel.addEventListener("click", closeSheet);
  el.sheetConfirm.addEventListener("click", function () {
    el.sheet.hidden = true;
    newConversation();
    el.input.focus();
  });
  el.sheet.addEventListener("click", function (e) {
    if (e.target === el.sheet) closeSheet();
  });
  el.sheet.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      e.stopPropagation();
      closeSheet();
    } else if (e.key === "Tab") {
      // Keep the focus inside the dialog.
      var first = el.sheetConfirm;
      var last = el.sheetCancel;
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    }
  });

  // ------------------------------------------------------------- embedding
  function closeEmbedded() {
    if (window.parent !== window) window.parent.postMessage({ type: "anxin:close" }, "*");
  }

  if (embedded) {
    document.body.classList.add("embedded");
    el.close.hidden = false;
    el.close.addEventListener("click", closeEmbedded);
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && el.sheet.hidden && el.viewer.hidden) closeEmbedded();
    });
  }

  // ------------------------------------------------------------- lifecycle
  el.bannerRetry.addEventListener("click", function () {
    probe(true);
  });
  window.addEventListener("online", function () {
    if (offline.active) probe();
  });
  window.addEventListener("offline", function () {
    goOffline();
  });
  // Another tab changed the conversation: follow it.
  window.addEventListener("storage", function (e) {
    if (e.key !== CONFIG.storageKey || inflight || uploads.xhr) return;
    state = loadState() || freshState();
    renderAll();
  });
  window.addEventListener("message", function (e) {
    if (e.source === window.parent && e.data && e.data.type === "anxin:focus") el.input.focus();
  });

  renderAll();
  refreshSend();
  if (!state.messages.length && !state.greeted) {
    greet();
  } else {
    pump();
    // Say so at once when the server cannot be reached, not only at the next message.
    if (!inflight) {
      healthy().then(function (ok) {
        if (!ok) goOffline();
      });
    }
  }
  if (window.matchMedia && window.matchMedia("(pointer: fine)").matches && !embedded) el.input.focus();

  // For the browser tests and for debugging in the console; holds no secrets.
  window.anxinChat = {
    sender: function () {
      return state.sender;
    },
    config: CONFIG,
  };
})();
