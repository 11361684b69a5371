/* 安心 web chat.
 *
 * Talks to Rasa's REST channel (POST {rasaUrl}/webhooks/rest/webhook with
 * {"sender", "message"}; the answer is the list of the bot's messages).
 * Every string from the user or the bot is put on the page as text (text
 * nodes, textContent), never as HTML.
 */
(function () {
  "use strict";

  var defaults = {
    rasaUrl: location.protocol + "//" + (location.hostname || "localhost") + ":5005",
    restPath: "/webhooks/rest/webhook",
    timeoutMs: 60000,
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
    return !m.hidden && (m.from === "user" || m.letter || (typeof m.text === "string" && m.text !== ""));
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
    } else {
      var bubble = document.createElement("div");
      bubble.className = "bubble bubble-" + m.from;
      bubble.appendChild(speaker(m.from));
      appendRichText(bubble, m.text);
      stack.appendChild(bubble);
    }
    row.appendChild(stack);
    if (m.from === "user") {
      var status = statusNode(m);
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
    var out = [];
    replies.forEach(function (r) {
      if (!r || typeof r !== "object") return;
      var buttons = cleanButtons(r.buttons);
      var m = { id: messageId(), from: "bot", ts: now };
      if (buttons.length) m.buttons = buttons;
      if (isLetter(r)) {
        m.letter = cleanLetter(r.custom);
      } else if (typeof r.text === "string" && r.text.trim()) {
        m.text = r.text;
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
      if (e.key === "Escape" && el.sheet.hidden) closeEmbedded();
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
    if (e.key !== CONFIG.storageKey || inflight) return;
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
