/*! Comment widget of the comment-moderation service. Embed it with two lines:
 *   <div id="comments" data-site="demo" data-thread="post-42"></div>
 *   <script src="https://comments.example.org/embed.js" async></script>
 * Optional attributes: data-thread (default: the page's path), data-title, data-url,
 * data-page-size (top-level comments per page, default 20), data-lang (en, de, es, fr, ru;
 * default: the browser's languages), data-theme (light, dark; default: the reader's
 * system setting). Its colours are CSS custom properties (--cw-*) a site can set on the
 * #comments element. Elements with
 * data-comment-count="thread-key" (and data-site) anywhere on the page show that count.
 * Safety: whatever readers wrote is inserted as text. Comment bodies arrive as HTML that the
 * server rendered from Markdown and sanitized; the widget still copies only allowed tags. */
(() => {
  "use strict";
  const script =
    document.currentScript || document.querySelector('script[src$="/embed.js"]');
  const ORIGIN = new URL(script.src, location.href).origin;
  const API = ORIGIN + "/api/v1";
  const LANGS = ["en", "de", "es", "fr", "ru"]; // catalogues in /embed/i18n/LANG.json
  const MAX_INDENT = 6; // deeper replies are shown, but not indented further
  const KEEP_DAYS = 30; // how long author tokens are kept in this browser
  const REASONS = () => [
    ["offensive", t("Offensive")],
    ["abusive", t("Abusive or harassing")],
    ["spam", t("Spam")],
    ["other", t("Something else")],
  ];
  const SORTS = () => [
    ["oldest", t("Oldest first")], ["newest", t("Newest first")], ["replies", t("Most replies")],
  ];
  // API field names -> the widget's form fields, so errors appear next to their field.
  const FIELDS = {
    author_name: "name", author_email: "email", notify_replies: "notify", body: "body",
    reason: "reason", note: "note",
  };
  const TAGS = new Set(
    "P BR EM STRONG CODE PRE BLOCKQUOTE UL OL LI A HR DEL".split(" ")
  );
  let lastId = 0;
  const uid = (prefix) => `cw-${prefix}-${++lastId}`;
  const enc = encodeURIComponent;
  const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

  // Every text readers see goes through t(English text, {name: value}): the key is the
  // English text, the reader's catalogue maps it to their language (a test checks that
  // each catalogue has every key of this file). Counted texts have one form per plural
  // category of the language (Intl.PluralRules); English's are here.
  const ENGLISH = {
    "{n} comments": { one: "{n} comment", other: "{n} comments" },
    "Please try again in {n} seconds.": {
      one: "Please try again in {n} second.", other: "Please try again in {n} seconds.",
    },
  };
  let lang = "en";
  let messages = ENGLISH;
  let plurals = new Intl.PluralRules("en");
  function t(text, vars) {
    let out = messages[text] || ENGLISH[text] || text;
    if (typeof out === "object") out = out[plurals.select(vars.n)] || out.other;
    return vars ? out.replace(/\{(\w+)\}/g, (all, name) => (name in vars ? vars[name] : all)) : out;
  }

  // data-lang if we have it, else the first of the browser's languages we have.
  async function useLanguage(host) {
    const wanted = [host && host.dataset.lang, ...(navigator.languages || [navigator.language])];
    lang = wanted.map((tag) => String(tag || "").toLowerCase().split("-")[0])
      .find((code) => LANGS.includes(code)) || "en";
    plurals = new Intl.PluralRules(lang);
    if (lang === "en") return;
    try {
      const response = await fetch(`${ORIGIN}/embed/i18n/${lang}.json`, { credentials: "omit" });
      if (response.ok) messages = await response.json();
    } catch (error) { /* not reachable: English, below */ }
    if (messages === ENGLISH) { // English all through then, the server's messages included
      lang = "en";
      plurals = new Intl.PluralRules(lang);
    }
  }

  // h("button", {type: "button", onclick: f}, "text", child): strings become text nodes.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value == null || value === false) continue;
      if (typeof value === "function") el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) if (child != null && child !== false) el.append(child);
    return el;
  }

  // The server's sanitized HTML, copied node by node through an allow-list: a second
  // line of defence; nothing is ever parsed into the live page.
  function safeHtml(html) {
    const out = document.createDocumentFragment();
    const copy = (from, to) => {
      for (const node of from.childNodes) {
        if (node.nodeType === Node.TEXT_NODE) to.append(node.data);
        if (node.nodeType !== Node.ELEMENT_NODE) continue;
        if (!TAGS.has(node.tagName)) {
          if (!/^(SCRIPT|STYLE|TEMPLATE|SVG|MATH)$/i.test(node.tagName)) copy(node, to);
          continue;
        }
        const el = document.createElement(node.tagName);
        const href = node.getAttribute("href") || "";
        if (node.tagName === "A" && /^(https?:|mailto:)/i.test(href)) {
          el.setAttribute("href", href);
          el.setAttribute("rel", "nofollow ugc noopener noreferrer");
          el.setAttribute("target", "_blank");
        }
        const start = node.getAttribute("start");
        if (node.tagName === "OL" && /^\d{1,6}$/.test(start || "")) el.setAttribute("start", start);
        copy(node, el);
        to.append(el);
      }
    };
    copy(new DOMParser().parseFromString(html || "", "text/html").body, out);
    return out;
  }

  async function api(method, path, body, tokens, idempotencyKey) {
    const headers = { "Accept-Language": lang }; // the server's messages in the same language
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (tokens && tokens.length) headers["X-Author-Token"] = tokens.join(",");
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    let response;
    try {
      response = await fetch(API + path, {
        method, headers, credentials: "omit",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      return { status: 0, data: null };
    }
    let data = null;
    try {
      if (response.status !== 204) data = await response.json();
    } catch (error) { /* not JSON: the status says enough */ }
    return { status: response.status, data, retryAfter: response.headers.get("Retry-After") };
  }

  // A random key for one post: crypto.randomUUID exists only on https pages, and blogs
  // are not all on https; getRandomValues is everywhere.
  function newKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function problemText(r) {
    if (r.status === 0) {
      return t("Could not reach the comment service. Check your connection and try again.");
    }
    if (r.status === 429) {
      const wait = parseInt(r.retryAfter, 10);
      return t("You are sending too much too fast.") + " " +
        (wait > 0 ? t("Please try again in {n} seconds.", { n: wait }) : t("Please try again later."));
    }
    return (r.data && r.data.detail) ||
      t("The comment service answered with an error ({status}).", { status: r.status });
  }

  let timeFormat = null;
  const UNITS = [
    ["year", 31536e3], ["month", 2592e3], ["week", 604800], ["day", 86400],
    ["hour", 3600], ["minute", 60],
  ];
  function ago(iso) {
    const seconds = (Date.parse(iso) - Date.now()) / 1000;
    timeFormat = timeFormat || new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
    for (const [unit, size] of UNITS) {
      if (Math.abs(seconds) >= size) return timeFormat.format(Math.round(seconds / size), unit);
    }
    return t("just now");
  }

  // Colours are custom properties: a site sets them on its #comments element (that rule
  // wins over :host) to theme the widget; README's widget section lists them.
  const LIGHT = `color-scheme:light;--cw-page:transparent;--cw-pad:0;--cw-text:#1f2328;
--cw-muted:#57606a;--cw-accent:#0b57d0;--cw-on-accent:#fff;--cw-line:#d0d7de;--cw-bad:#b3261e;
--cw-bg:#fff;--cw-surface:#f6f8fa;--cw-input-line:#8c959f;--cw-warn-bg:#fff8c5;
--cw-warn-line:#d4a72c;--cw-warn-text:#5c4400;--cw-pin-bg:#ddf4ff;--cw-pin-line:#54aeff;
--cw-pin-text:#0a3069;--cw-gone-bg:#ffebe9;--cw-gone-line:#ff8182;--cw-gone-text:#82071e`;
  const DARK = `color-scheme:dark;--cw-page:#0d1117;--cw-pad:.75rem 1rem;--cw-text:#e6edf3;
--cw-muted:#9198a1;--cw-accent:#4493f8;--cw-on-accent:#0d1117;--cw-line:#3d444d;--cw-bad:#f85149;
--cw-bg:#151b23;--cw-surface:#212830;--cw-input-line:#656c76;--cw-warn-bg:#272115;
--cw-warn-line:#9e6a03;--cw-warn-text:#e3b341;--cw-pin-bg:#0c2d6b;--cw-pin-line:#1f6feb;
--cw-pin-text:#a5d6ff;--cw-gone-bg:#25171c;--cw-gone-line:#da3633;--cw-gone-text:#ffa198`;
  const STYLE = `
:host{all:initial;display:block;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
${LIGHT};color:var(--cw-text);background:var(--cw-page);padding:var(--cw-pad)}
@media (prefers-color-scheme:dark){:host(:not([data-theme=light])){${DARK}}}
:host([data-theme=dark]){${DARK}}
*{box-sizing:border-box}[hidden]{display:none!important}
h2{font-size:1.25rem;margin:0 0 .5rem}
ol{list-style:none;margin:0;padding:0}
.replies{margin-left:1rem;padding-left:.75rem;border-left:2px solid var(--cw-line)}
.replies.flat{margin-left:0;padding-left:0;border-left:0}
.comment{margin:.75rem 0}
.meta{display:flex;flex-wrap:wrap;gap:.15rem .5rem;align-items:baseline;margin:0;font-size:.875rem;color:var(--cw-muted)}
.author{font-weight:600;color:var(--cw-text);overflow-wrap:anywhere}
.badge{font-size:.8rem;padding:0 .45rem;border-radius:1rem;background:var(--cw-warn-bg);border:1px solid var(--cw-warn-line);color:var(--cw-warn-text)}
.badge.pinned{background:var(--cw-pin-bg);border-color:var(--cw-pin-line);color:var(--cw-pin-text)}
.closed{margin:.5rem 0 1rem;padding:.5rem .75rem;border:1px solid var(--cw-line);border-radius:8px;color:var(--cw-muted)}
.badge.gone{background:var(--cw-gone-bg);border-color:var(--cw-gone-line);color:var(--cw-gone-text)}
.body{overflow-wrap:anywhere}.body p{margin:.25rem 0}
.body pre{overflow-x:auto;background:var(--cw-surface);padding:.5rem;border-radius:6px}
.body blockquote{margin:.25rem 0;padding-left:.75rem;border-left:3px solid var(--cw-line);color:var(--cw-muted)}
a{color:var(--cw-accent)}.tombstone{color:var(--cw-muted);font-style:italic;margin:.25rem 0}
.actions{display:flex;flex-wrap:wrap;gap:.25rem;margin-top:.15rem}
button,select{font:inherit;font-size:.875rem;line-height:1.4;padding:.3rem .7rem;border:1px solid var(--cw-line);
border-radius:6px;background:var(--cw-surface);color:var(--cw-text);cursor:pointer}
.actions button{background:none;border-color:transparent;color:var(--cw-muted);padding:.1rem .4rem}
.actions button:hover{color:var(--cw-text);background:var(--cw-surface)}
button.primary{background:var(--cw-accent);border-color:var(--cw-accent);color:var(--cw-on-accent)}
button:disabled{opacity:.6;cursor:default}
:focus-visible{outline:3px solid var(--cw-accent);outline-offset:2px}
form{margin:.5rem 0 1rem;padding:.75rem;border:1px solid var(--cw-line);border-radius:8px;background:var(--cw-bg)}
.row{display:flex;flex-wrap:wrap;gap:0 .75rem}.row>.field{flex:1 1 12rem}
.field{margin-bottom:.5rem}label,legend{display:block;font-weight:600;font-size:.9rem;margin-bottom:.15rem}
input,textarea{width:100%;font:inherit;padding:.4rem .5rem;border:1px solid var(--cw-input-line);border-radius:6px;
background:var(--cw-bg);color:var(--cw-text)}textarea{resize:vertical;min-height:5rem}
input[type=radio],input[type=checkbox]{width:auto;margin:0}.choice{display:flex;gap:.4rem;align-items:center}
.choice label{font-weight:400;margin:0}fieldset{border:0;padding:0;margin:0 0 .5rem}
[aria-invalid=true]{border-color:var(--cw-bad);box-shadow:0 0 0 1px var(--cw-bad)}
.note{margin:.15rem 0 0;font-size:.8rem;color:var(--cw-muted)}
.error{margin:.15rem 0 0;font-size:.875rem;color:var(--cw-bad)}.error:empty{margin:0}
.warning{border:1px solid var(--cw-warn-line);background:var(--cw-warn-bg);border-radius:6px;padding:.5rem .75rem;margin:.5rem 0}
.warning p,.warning ul{margin:.25rem 0}
.buttons{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:.5rem}
.notice{margin:.25rem 0;color:var(--cw-muted)}.notice:empty{margin:0}
.sort{display:flex;gap:.5rem;align-items:center;justify-content:flex-end}.sort label{margin:0;font-weight:400}
.hp{position:absolute;left:-10000px;top:auto;width:1px;height:1px;overflow:hidden}`;

  function addStyles(root) {
    // A constructed stylesheet is not inline style for CSP purposes: pages whose
    // Content-Security-Policy forbids inline styles (ours does) still style the widget.
    if ("adoptedStyleSheets" in root && typeof CSSStyleSheet.prototype.replaceSync === "function") {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(STYLE);
      root.adoptedStyleSheets = [sheet];
    } else {
      root.append(h("style", {}, STYLE));
    }
  }

  class Widget {
    constructor(host) {
      const data = host.dataset;
      const canonical = document.querySelector('link[rel="canonical"]');
      this.site = data.site;
      this.thread = data.thread || location.pathname;
      this.title = (data.title || document.title || "").slice(0, 300);
      // The service takes a thread's URL only on the site's own origins (the queue links
      // moderators there); a canonical link to another host would get the post refused.
      const sameOrigin = canonical && new URL(canonical.href).origin === location.origin;
      this.url = data.url || (sameOrigin && canonical.href) || location.origin + location.pathname;
      this.pageSize = Math.min(Math.max(parseInt(data.pageSize, 10) || 20, 1), 500);
      this.items = new Map(); // comment id -> rendered comment
      this.closed = false;
      this.count = 0;
      this.cursor = null;
      this.storeKey = `comment-widget:${API}:${this.site}`;
      this.store = this.readStore();
      this.generation = 0; // a load answered after the order changed is dropped
      this.sort = SORTS().some(([value]) => value === this.store.sort) ? this.store.sort : "oldest";
      const root = host.attachShadow({ mode: "open" });
      addStyles(root);
      this.heading = h("h2", { id: "cw-heading" }, t("Comments"));
      this.notice = h("p", { class: "notice", role: "status" });
      this.loadError = h("div", { class: "error", role: "alert" });
      this.list = h("ol", { class: "list", "aria-label": t("Comments") });
      this.more = h("button", { type: "button", hidden: true, onclick: () => this.load(true) },
        t("Show more comments"));
      const form = this.commentForm({ label: t("Write a comment") });
      this.form = form.form;
      this.closedNote = h("p", { class: "closed", hidden: true }, t("Comments are closed"));
      const sortId = uid("sort");
      const order = h("select", { id: sortId, onchange: () => this.resort(order.value) },
        SORTS().map(([value, label]) => h("option", { value, selected: value === this.sort }, label)));
      this.sortBar = h("div", { class: "sort", hidden: true },
        h("label", { for: sortId }, t("Sort by")), order);
      root.append(h("section", { "aria-labelledby": "cw-heading", lang },
        this.heading, this.notice, this.closedNote, form.form, this.loadError, this.sortBar,
        this.list, this.more));
      this.load(false);
      setInterval(() => this.refreshTimes(root), 30000);
    }

    // ---------------------------------------------------------------- author tokens

    readStore() {
      let stored = null;
      try {
        stored = JSON.parse(localStorage.getItem(this.storeKey) || "null");
      } catch (error) { /* storage disabled: keep them for this page view only */ }
      const store = stored && typeof stored === "object" ? stored : {};
      store.own = store.own || {};
      const oldest = Date.now() - KEEP_DAYS * 864e5;
      for (const [id, entry] of Object.entries(store.own)) {
        if (!entry || !(entry.saved > oldest)) delete store.own[id];
      }
      return store;
    }

    saveStore() {
      try {
        localStorage.setItem(this.storeKey, JSON.stringify(this.store));
      } catch (error) { /* storage full or disabled */ }
    }

    own(id) {
      return this.store.own[id];
    }

    tokens() {
      return Object.values(this.store.own)
        .filter((entry) => entry.thread === this.thread)
        .sort((a, b) => b.saved - a.saved)
        .slice(0, 50)
        .map((entry) => entry.token);
    }

    editable(id) {
      const entry = this.own(id);
      return Boolean(entry && Date.parse(entry.until) > Date.now());
    }

    // ---------------------------------------------------------------- loading

    async load(more) {
      this.loadError.replaceChildren();
      this.more.disabled = true;
      const generation = this.generation;
      let query = `?thread=${enc(this.thread)}&limit=${this.pageSize}&sort=${this.sort}`;
      if (more && this.cursor) query += `&cursor=${enc(this.cursor)}`;
      const r = await api("GET", `/sites/${enc(this.site)}/comments${query}`, undefined,
        this.tokens());
      if (generation !== this.generation) return;
      this.more.disabled = false;
      if (r.status === 200) {
        this.count = r.data.thread.comment_count;
        this.setClosed(r.data.thread.closed === true);
        for (const node of r.data.comments) {
          if (!this.items.has(node.id)) this.list.append(this.renderComment(node, 0));
        }
        this.cursor = r.data.next_cursor;
        this.more.hidden = !this.cursor;
        if (!more) this.showLinked();
      } else if (r.status === 404 && !/^no site/.test((r.data && r.data.detail) || "")) {
        this.count = 0; // the thread starts with its first comment
      } else {
        const retry = h("button", { type: "button", onclick: () => this.load(more) }, t("Try again"));
        const why = r.status === 0
          ? t("the comment service could not be reached, or does not accept this page.")
          : problemText(r);
        this.loadError.replaceChildren(
          h("p", {}, t("Comments could not be loaded: {why}", { why })), retry);
      }
      this.showCount();
    }

    // The reader's order (kept in this browser for the site): the server sorts, since
    // pages of a long thread are only right in the order they were cut in.
    resort(order) {
      this.sort = this.store.sort = order;
      this.saveStore();
      this.generation += 1;
      this.items.clear();
      this.list.replaceChildren();
      this.cursor = null;
      this.more.hidden = true;
      this.load(false);
    }

    // A closed thread (a moderator's choice) takes no comments or replies: say so
    // instead of offering a form the API would refuse.
    setClosed(closed) {
      if (closed === this.closed) return;
      this.closed = closed;
      this.form.hidden = closed;
      this.closedNote.hidden = !closed;
      for (const item of this.items.values()) this.fill(item);
    }

    // A reply mail links to the page with #comment-ID: show that comment (inside the
    // Shadow DOM, the browser cannot find it by itself).
    showLinked() {
      const linked = /^#comment-(\d+)$/.exec(location.hash);
      const item = linked && this.items.get(Number(linked[1]));
      if (!item) return;
      item.article.scrollIntoView({ block: "center" });
      item.article.focus({ preventScroll: true });
    }

    showCount() {
      this.heading.textContent = this.count === 0 ? t("No comments yet")
        : t("{n} comments", { n: this.count });
      this.sortBar.hidden = this.count < 2;
    }

    announce(message) {
      this.notice.textContent = "";
      setTimeout(() => { this.notice.textContent = message; }, 50);
    }

    refreshTimes(root) {
      for (const el of root.querySelectorAll("time[datetime]")) {
        el.textContent = ago(el.getAttribute("datetime"));
      }
    }

    // ---------------------------------------------------------------- rendering

    renderComment(node, depth) {
      const item = {
        c: node,
        depth,
        li: h("li", { class: node.pinned ? "comment pinned" : "comment" }),
        article: h("article", { tabindex: "-1" }),
        slot: h("div", { class: "slot" }),
        replies: h("ol", { class: depth + 1 > MAX_INDENT ? "replies flat" : "replies" }),
      };
      item.li.append(item.article, item.slot, item.replies);
      this.items.set(node.id, item);
      this.fill(item);
      for (const reply of node.replies || []) {
        item.replies.append(this.renderComment(reply, depth + 1));
      }
      if (node.status === "pending" && this.own(node.id)) this.watch(node.id);
      return item.li;
    }

    fill(item) {
      const c = item.c;
      const own = this.own(c.id);
      item.slot.replaceChildren();
      if (c.status === null) {
        item.article.setAttribute("aria-label", t("Removed comment"));
        item.article.replaceChildren(h("p", { class: "tombstone" }, t("This comment was removed.")));
        return;
      }
      const name = { name: c.author_name };
      item.article.setAttribute("aria-label",
        item.depth ? t("Reply by {name}", name) : t("Comment by {name}", name));
      const badge = {
        pending: [t("Awaiting moderation"), "badge"],
        held: [t("Awaiting moderation"), "badge"],
        hidden: [t("Not published: removed by moderation"), "badge gone"],
      }[c.status];
      const when = new Date(c.created_at);
      const meta = h("p", { class: "meta" },
        h("span", { class: "author" }, c.author_name),
        h("time", { datetime: c.created_at, title: when.toLocaleString() }, ago(c.created_at)),
        c.edited_at ? h("span", {}, t("(edited)")) : null,
        c.pinned ? h("span", { class: "badge pinned" }, t("Pinned")) : null,
        badge ? h("span", { class: badge[1] }, badge[0]) : null,
        badge && own ? h("span", {}, t("only you can see it")) : null);
      const actions = h("div", { class: "actions" });
      const toggle = (label, aria, open) => {
        const button = h("button", { type: "button", "aria-label": aria, "aria-expanded": "false",
          onclick: () => this.openSlot(item, button, open) }, label);
        actions.append(button);
        return button;
      };
      if (c.status === "visible" && !this.closed) {
        toggle(t("Reply"), t("Reply to {name}", name), () => this.replyForm(item));
        if (!own) toggle(t("Report"), t("Report comment by {name}", name), () => this.flagForm(item));
      }
      if (own && this.editable(c.id) && c.status !== "hidden") {
        if (c.status !== "pending") {
          toggle(t("Edit"), t("Edit your comment"), () => this.editForm(item));
        }
        toggle(t("Delete"), t("Delete your comment"), () => this.deleteConfirm(item));
      }
      item.article.replaceChildren(meta, h("div", { class: "body" }, safeHtml(c.body_html)),
        actions.childNodes.length ? actions : null);
    }

    // One form at a time under a comment: reply, report, edit or delete.
    openSlot(item, button, open) {
      const wasOpen = button.getAttribute("aria-expanded") === "true";
      this.closeSlot(item);
      if (wasOpen) return;
      const { form, focus } = open();
      button.setAttribute("aria-expanded", "true");
      item.opener = button;
      item.slot.replaceChildren(form);
      form.addEventListener("keydown", (event) => {
        if (event.key === "Escape") this.closeSlot(item, true);
      });
      focus.focus();
    }

    closeSlot(item, refocus) {
      item.slot.replaceChildren();
      for (const b of item.article.querySelectorAll("[aria-expanded]")) {
        b.setAttribute("aria-expanded", "false");
      }
      if (refocus && item.opener && item.opener.isConnected) item.opener.focus();
    }

    // ---------------------------------------------------------------- forms

    field(ctx, name, label, control, note) {
      const id = uid(name);
      const error = h("p", { class: "error", id: `${id}-error` });
      control.id = id;
      control.name = name;
      control.setAttribute("aria-describedby", `${id}-error` + (note ? ` ${id}-note` : ""));
      ctx.fields[name] = { control, error };
      return h("div", { class: "field" }, h("label", { for: id }, label), control,
        note ? h("p", { class: "note", id: `${id}-note` }, note) : null, error);
    }

    // A box with its label on the right; its API errors show under it like a field's.
    checkbox(ctx, name, label) {
      const id = uid(name);
      const control = h("input", { type: "checkbox", id, name,
        "aria-describedby": `${id}-error` });
      const error = h("p", { class: "error", id: `${id}-error` });
      ctx.fields[name] = { control, error };
      return h("div", { class: "field" },
        h("div", { class: "choice" }, control, h("label", { for: id }, label)), error);
    }

    // The comment, reply and edit forms: check the draft, warn, then post or save.
    commentForm({ label, parentId, edit, onCancel }) {
      const ctx = { fields: {}, parentId, edit };
      const form = ctx.form = h("form", { class: "write", novalidate: true, "aria-label": label });
      if (!edit) {
        const name = h("input", { type: "text", autocomplete: "name", maxlength: "100",
          required: true, "aria-required": "true" });
        name.value = this.store.name || "";
        form.append(h("div", { class: "row" },
          this.field(ctx, "name", t("Name"), name),
          this.field(ctx, "email", t("Email (optional, never shown)"),
            h("input", { type: "email", autocomplete: "email", maxlength: "254" }))));
        form.append(this.checkbox(ctx, "notify", t("Email me when someone replies")));
        const trapId = uid("website");
        ctx.trap = h("input", { type: "text", id: trapId, name: "website", tabindex: "-1",
          autocomplete: "off" });
        form.append(h("div", { class: "hp", "aria-hidden": "true" },
          h("label", { for: trapId }, t("Leave this field empty")), ctx.trap));
      }
      const body = h("textarea", { rows: "4", maxlength: "10000", required: true,
        "aria-required": "true" });
      if (edit) body.value = (this.own(edit.c.id) || {}).body || "";
      form.append(this.field(ctx, "body",
        edit ? t("Your comment") : parentId ? t("Your reply") : t("Your comment"), body,
        t("Markdown works: **bold**, *italic*, [a link](https://example.org), > quote, `code`.")));
      ctx.warning = h("div", { class: "warning", role: "alert", hidden: true });
      ctx.general = h("p", { class: "error", role: "alert" });
      ctx.submit = h("button", { type: "submit", class: "primary" },
        edit ? t("Save") : parentId ? t("Post reply") : t("Post comment"));
      form.append(ctx.warning, ctx.general, h("div", { class: "buttons" }, ctx.submit,
        onCancel ? h("button", { type: "button", onclick: onCancel }, t("Cancel")) : null));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        this.send(ctx, false);
      });
      const first = ctx.fields.name && !ctx.fields.name.control.value ? ctx.fields.name : ctx.fields.body;
      return { form, focus: first.control, ctx };
    }

    replyForm(item) {
      return this.commentForm({ label: t("Reply to {name}", { name: item.c.author_name }),
        parentId: item.c.id,
        onCancel: () => this.closeSlot(item, true) });
    }

    editForm(item) {
      return this.commentForm({ label: t("Edit your comment"), edit: item,
        onCancel: () => this.closeSlot(item, true) });
    }

    clearErrors(ctx) {
      ctx.general.textContent = "";
      for (const { control, error } of Object.values(ctx.fields)) {
        error.textContent = "";
        control.removeAttribute("aria-invalid");
      }
    }

    // Field errors from the API next to their fields; anything else under the form.
    showProblem(ctx, r) {
      const errors = (r.data && r.data.errors) || [];
      let first = null;
      for (const { field, message } of errors) {
        const target = ctx.fields[FIELDS[field]];
        if (!target) continue;
        target.error.textContent = message.charAt(0).toUpperCase() + message.slice(1) + ".";
        target.control.setAttribute("aria-invalid", "true");
        first = first || target.control;
      }
      if (first) first.focus();
      else ctx.general.textContent = problemText(r);
    }

    showWarning(ctx, concerns) {
      const body = ctx.fields.body.control;
      const again = () => {
        ctx.warning.hidden = true;
        this.send(ctx, true);
      };
      ctx.warning.replaceChildren(
        h("p", {}, h("strong", {}, t("Before you post:")), " ",
          t("your comment may break our community guidelines.")),
        h("ul", {}, concerns.map((concern) => h("li", {}, concern.guideline))),
        h("p", {}, t(
          "You can edit it, or post it anyway: a moderator will then review it before anyone else can see it.")),
        h("div", { class: "buttons" },
          h("button", { type: "button", onclick: () => { ctx.warning.hidden = true; body.focus(); } },
            t("Edit my comment")),
          h("button", { type: "button", onclick: again }, t("Post anyway"))));
      ctx.warning.hidden = false;
      ctx.warning.querySelector("button").focus();
    }

    async send(ctx, acknowledged) {
      if (ctx.busy) return;
      ctx.busy = true;
      ctx.submit.disabled = true;
      ctx.form.setAttribute("aria-busy", "true");
      ctx.warning.hidden = true;
      this.clearErrors(ctx);
      this.notice.textContent = ""; // the last post's "published" no longer applies
      try {
        const value = (name) => (ctx.fields[name] ? ctx.fields[name].control.value : "");
        const body = value("body");
        const complete = body.trim() && (ctx.edit || value("name").trim());
        if (!acknowledged && complete) {
          // Warn before posting. If the check cannot answer (503, say), post anyway:
          // the comment is scored and moderated in any case.
          const check = await api("POST", `/sites/${enc(this.site)}/comments/check`, { body });
          if (check.status === 200 && check.data.warning) {
            this.showWarning(ctx, check.data.concerns);
            return;
          }
          if (check.status !== 200 && check.status !== 503) {
            this.showProblem(ctx, check);
            return;
          }
        }
        if (ctx.edit) await this.saveEdit(ctx, body, acknowledged);
        else await this.post(ctx, body, acknowledged, value);
      } finally {
        ctx.busy = false;
        ctx.submit.disabled = false;
        ctx.form.removeAttribute("aria-busy");
      }
    }

    async post(ctx, body, acknowledged, value) {
      const payload = {
        thread: this.thread, thread_title: this.title || undefined,
        thread_url: this.url.length <= 2048 ? this.url : undefined,
        author_name: value("name"), author_email: value("email").trim() || undefined,
        notify_replies: ctx.fields.notify.control.checked || undefined,
        body, parent_id: ctx.parentId || undefined,
        acknowledged_warning: acknowledged || undefined,
        website: ctx.trap.value || undefined,
      };
      // The same post sent again after no answer, or a 5xx (the server may have stored
      // it before the connection dropped), carries the same key: the server answers with
      // the comment it stored instead of storing it twice. Any other post gets a new key.
      const sent = JSON.stringify(payload);
      if (!ctx.pending || ctx.pending.payload !== sent) ctx.pending = { payload: sent, key: newKey() };
      const r = await api("POST", `/sites/${enc(this.site)}/comments`, payload, null,
        ctx.pending.key);
      if (r.status !== 0 && r.status < 500) ctx.pending = null;
      if (r.status === 204) { // dropped by the server (the honeypot was filled)
        ctx.form.reset();
        this.announce(t("Thank you."));
        return;
      }
      if (r.status !== 201 && r.status !== 202) {
        this.showProblem(ctx, r);
        return;
      }
      const c = r.data;
      this.store.name = payload.author_name.trim();
      this.store.own[c.id] = {
        token: c.author_token, thread: this.thread, body, until: c.editable_until,
        saved: Date.now(),
      };
      this.saveStore();
      const parent = ctx.parentId && this.items.get(ctx.parentId);
      const li = this.renderComment({ ...c, replies: [] }, parent ? parent.depth + 1 : 0);
      if (!parent && this.sort === "newest") { // on top, under the pinned comment
        const first = [...this.list.children].find((el) => !el.classList.contains("pinned"));
        this.list.insertBefore(li, first || null);
      } else {
        (parent ? parent.replies : this.list).append(li);
      }
      if (parent) this.closeSlot(parent);
      else ctx.fields.body.control.value = "";
      if (c.status === "visible") {
        this.count += 1;
        this.showCount();
      }
      // The new comment may land far from the form (the end of a long thread): show it.
      const posted = this.items.get(c.id).article;
      const calm = matchMedia("(prefers-reduced-motion: reduce)").matches;
      posted.scrollIntoView({ block: "nearest", behavior: calm ? "auto" : "smooth" });
      posted.focus({ preventScroll: true });
      this.announce(c.status === "visible" ? t("Your comment was published.")
        : t("Your comment was received and is awaiting moderation."));
    }

    async saveEdit(ctx, body, acknowledged) {
      const item = ctx.edit;
      const entry = this.own(item.c.id);
      const r = await api("PATCH", `/comments/${item.c.id}`,
        { body, acknowledged_warning: acknowledged || undefined }, [entry && entry.token]);
      if (r.status !== 200) {
        this.showProblem(ctx, r);
        return;
      }
      entry.body = body;
      this.saveStore();
      this.update(item.c.id, r.data);
      if (r.data.status === "pending") this.watch(item.c.id);
      item.article.focus();
    }

    // A comment's new state from the server; the count follows visibility.
    update(id, data) {
      const item = this.items.get(id);
      if (!item) return;
      const before = item.c.status;
      item.c = { ...item.c, ...data, replies: item.c.replies };
      if (before !== "visible" && data.status === "visible") this.count += 1;
      if (before === "visible" && data.status !== "visible") this.count -= 1;
      this.showCount();
      this.fill(item);
      if (before !== data.status && this.own(id)) {
        this.announce(data.status === "visible" ? t("Your comment is now published.")
          : data.status === "hidden" ? t("Your comment was not published.")
            : t("Your comment is awaiting moderation."));
      }
    }

    // After posting or editing, follow the author's pending comment until it is scored.
    async watch(id) {
      if (this.watching && this.watching.has(id)) return;
      (this.watching = this.watching || new Set()).add(id);
      try {
        let delay = 400;
        for (const started = Date.now(); Date.now() - started < 60000;) {
          await sleep(delay);
          delay = Math.min(delay * 1.5, 4000);
          const entry = this.own(id);
          if (!entry || !this.items.has(id)) return;
          const r = await api("GET", `/comments/${id}`, undefined, [entry.token]);
          if (r.status === 404) return;
          if (r.status === 200 && r.data.status !== "pending") {
            this.update(id, r.data);
            return;
          }
        }
      } finally {
        this.watching.delete(id);
      }
    }

    flagForm(item) {
      const ctx = { fields: {} };
      const group = uid("reason");
      const choices = REASONS().map(([value, label]) => {
        const id = uid("reason");
        return h("div", { class: "choice" },
          h("input", { type: "radio", name: group, id, value }), h("label", { for: id }, label));
      });
      const reasonError = h("p", { class: "error", id: `${group}-error` });
      const fieldset = h("fieldset", { "aria-describedby": `${group}-error` },
        h("legend", {}, t("Why are you reporting this comment?")), choices, reasonError);
      ctx.fields.reason = { control: fieldset.querySelector("input"), error: reasonError };
      const form = ctx.form = h("form", { class: "flag", novalidate: true,
        "aria-label": t("Report comment by {name}", { name: item.c.author_name }) }, fieldset,
      this.field(ctx, "note", t("Note for the moderators (optional)"),
        h("textarea", { rows: "2", maxlength: "1000" })));
      ctx.general = h("p", { class: "error", role: "alert" });
      ctx.submit = h("button", { type: "submit", class: "primary" }, t("Send report"));
      form.append(ctx.general, h("div", { class: "buttons" }, ctx.submit,
        h("button", { type: "button", onclick: () => this.closeSlot(item, true) }, t("Cancel"))));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        this.clearErrors(ctx);
        const checked = form.querySelector("input[type=radio]:checked");
        ctx.submit.disabled = true;
        const r = await api("POST", `/comments/${item.c.id}/flags`, {
          reason: checked ? checked.value : undefined,
          note: ctx.fields.note.control.value.trim() || undefined,
        });
        ctx.submit.disabled = false;
        if (r.status !== 201) {
          this.showProblem(ctx, r);
          return;
        }
        const thanks = h("p", { class: "notice", tabindex: "-1" },
          t("Thank you for your report. A moderator will take a look."));
        item.slot.replaceChildren(thanks);
        thanks.focus();
        const button = item.article.querySelector("[aria-expanded=true]");
        if (button) {
          button.textContent = t("Reported");
          button.disabled = true;
          button.removeAttribute("aria-expanded");
          button.removeAttribute("aria-label");
        }
      });
      return { form, focus: ctx.fields.reason.control };
    }

    deleteConfirm(item) {
      const ctx = { fields: {}, general: h("p", { class: "error", role: "alert" }) };
      const yes = h("button", { type: "submit", class: "primary" }, t("Delete"));
      const form = h("form", { "aria-label": t("Delete your comment") },
        h("p", {}, t("Delete your comment? This cannot be undone.")), ctx.general,
        h("div", { class: "buttons" }, yes,
          h("button", { type: "button", onclick: () => this.closeSlot(item, true) }, t("Keep it"))));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        yes.disabled = true;
        const entry = this.own(item.c.id);
        const r = await api("DELETE", `/comments/${item.c.id}`, undefined, [entry && entry.token]);
        yes.disabled = false;
        if (r.status !== 204) {
          this.showProblem(ctx, r);
          return;
        }
        delete this.store.own[item.c.id];
        this.saveStore();
        if (item.c.status === "visible") this.count -= 1;
        this.showCount();
        if (item.replies.childElementCount) {
          item.c = { ...item.c, status: null };
          this.fill(item); // a tombstone keeps the replies in place
        } else {
          item.li.remove();
          this.items.delete(item.c.id);
        }
        this.announce(t("Your comment was deleted."));
      });
      return { form, focus: yes };
    }
  }

  // Comment counts anywhere on the page, e.g. on a blog's index:
  //   <a href="/post-42#comments" data-site="demo" data-comment-count="post-42"></a>
  async function fillCounts(defaultSite) {
    const bySite = new Map();
    for (const el of document.querySelectorAll("[data-comment-count]")) {
      const site = el.dataset.site || defaultSite;
      if (site) bySite.set(site, [...(bySite.get(site) || []), el]);
    }
    for (const [site, elements] of bySite) {
      const key = (el) => el.dataset.commentCount || location.pathname;
      const keys = [...new Set(elements.map(key))].slice(0, 200);
      const query = keys.map((k) => `thread=${enc(k)}`).join("&");
      const r = await api("GET", `/sites/${enc(site)}/counts?${query}`);
      if (r.status !== 200) continue;
      for (const el of elements) {
        const n = r.data.counts[key(el)];
        if (n !== undefined) el.textContent = t("{n} comments", { n });
      }
    }
  }

  async function start() {
    const host = document.getElementById("comments");
    await useLanguage(host);
    if (host && !host.shadowRoot && host.dataset.site) new Widget(host);
    fillCounts(host && host.dataset.site);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
