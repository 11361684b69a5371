/* 安心 floating chat widget for an operator's own site.
 *
 * Paste before </body>:
 *   <script src="https://YOUR-ANXIN-HOST/embed.js" async></script>
 * Options (attributes on that script tag):
 *   data-anxin-url   where the chat page lives (default: beside this script)
 *   data-position    "right" (default) or "left"
 *   data-label       the launcher's text label (default: 安心咨询)
 *   data-open        "1" to open the panel on page load
 * Opens the chat page in an iframe in a panel; the conversation is the same
 * one the page keeps (per visitor browser). Styles live in a shadow root, so
 * the host page's CSS and this widget's do not touch each other.
 * window.AnxinWidget.open() / .close() / .toggle() control it from the page.
 */
(function () {
  "use strict";
  if (window.AnxinWidget) return; // pasted twice

  var script =
    document.currentScript ||
    Array.prototype.filter.call(document.getElementsByTagName("script"), function (s) {
      return /\/embed\.js(\?|#|$)/.test(s.src);
    })[0];
  if (!script) return;
  var pageUrl = new URL(script.getAttribute("data-anxin-url") || "./", script.src);
  pageUrl.searchParams.set("embed", "1");
  var origin = pageUrl.origin;
  var left = script.getAttribute("data-position") === "left";
  var label = script.getAttribute("data-label") || "安心咨询";
  var OPEN_KEY = "anxin.widget.open";

  var css = [
    ":host { all: initial; }",
    ".launcher { position: fixed; bottom: 20px; " + (left ? "left" : "right") + ": 20px; z-index: 2147483000;",
    "  display: flex; align-items: center; gap: 8px; height: 52px; padding: 0 18px 0 14px; border: 0;",
    "  border-radius: 26px; background: #07c160; color: #fff; cursor: pointer;",
    "  font: 600 15px/1 -apple-system, BlinkMacSystemFont, 'PingFang SC', 'Microsoft YaHei', 'Noto Sans CJK SC', sans-serif;",
    "  box-shadow: 0 4px 14px rgba(0,0,0,.22); }",
    ".launcher:hover { background: #06ad56; }",
    ".launcher:focus-visible { outline: 3px solid #1a73e8; outline-offset: 3px; }",
    ".launcher svg { width: 24px; height: 24px; flex: none; }",
    ".panel { position: fixed; bottom: 84px; " + (left ? "left" : "right") + ": 20px; z-index: 2147483001;",
    "  width: 380px; height: min(640px, calc(100vh - 110px)); border-radius: 12px; overflow: hidden;",
    "  background: #ededed; box-shadow: 0 10px 40px rgba(0,0,0,.28); }",
    ".panel[hidden] { display: none; }",
    ".panel iframe { display: block; width: 100%; height: 100%; border: 0; }",
    "@media (max-width: 480px) {",
    "  .panel { inset: 0; width: 100%; height: 100%; border-radius: 0; }",
    "  .open .launcher { display: none; }",
    "}",
  ].join("\n");

  var host = document.createElement("div");
  host.id = "anxin-widget";
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  if (root.adoptedStyleSheets !== undefined && typeof CSSStyleSheet === "function") {
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
    } catch (err) {
      root.appendChild(styleElement());
    }
  } else {
    root.appendChild(styleElement());
  }

  function styleElement() {
    var style = document.createElement("style");
    style.textContent = css;
    return style;
  }

  function icon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute(
      "d",
      "M12 3C6.9 3 3 6.4 3 10.6c0 2.4 1.3 4.5 3.3 5.9L5.6 20l3.9-2.1c.8.2 1.6.3 2.5.3 5.1 0 9-3.4 9-7.6S17.1 3 12 3z"
    );
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  var wrap = document.createElement("div");
  var button = document.createElement("button");
  button.type = "button";
  button.className = "launcher";
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-controls", "anxin-panel");
  button.setAttribute("aria-label", "打开安心聊天：催收骚扰应对助手");
  button.appendChild(icon());
  var text = document.createElement("span");
  text.textContent = label;
  button.appendChild(text);

  var panel = document.createElement("div");
  panel.className = "panel";
  panel.id = "anxin-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", "安心聊天");
  panel.hidden = true;
  var frame = null;

  wrap.appendChild(panel);
  wrap.appendChild(button);
  root.appendChild(wrap);

  function remember(open) {
    try {
      sessionStorage.setItem(OPEN_KEY, open ? "1" : "0");
    } catch (err) {
      /* storage blocked: nothing to remember */
    }
  }

  function focusChat() {
    if (frame && frame.contentWindow) frame.contentWindow.postMessage({ type: "anxin:focus" }, origin);
  }

  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.title = "安心聊天";
      frame.src = pageUrl.href;
      frame.setAttribute("allow", "clipboard-write");
      frame.addEventListener("load", focusChat);
      panel.appendChild(frame);
    }
    panel.hidden = false;
    wrap.className = "open";
    button.setAttribute("aria-expanded", "true");
    button.setAttribute("aria-label", "关闭安心聊天");
    remember(true);
    focusChat();
  }

  function close() {
    panel.hidden = true;
    wrap.className = "";
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-label", "打开安心聊天：催收骚扰应对助手");
    remember(false);
    button.focus();
  }

  function toggle() {
    if (panel.hidden) open();
    else close();
  }

  button.addEventListener("click", toggle);
  window.addEventListener("message", function (e) {
    if (!frame || e.source !== frame.contentWindow || e.origin !== origin) return;
    if (e.data && e.data.type === "anxin:close") close();
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !panel.hidden) close();
  });

  function mount() {
    document.body.appendChild(host);
    var wasOpen = false;
    try {
      wasOpen = sessionStorage.getItem(OPEN_KEY) === "1";
    } catch (err) {
      wasOpen = false;
    }
    if (wasOpen || script.getAttribute("data-open") === "1") open();
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  window.AnxinWidget = { open: open, close: close, toggle: toggle };
})();
