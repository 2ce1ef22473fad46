/*! Comment widget of the comment-moderation service. Embed it with two lines:
 *   <div id="comments" data-site="demo" data-thread="post-42"></div>
 *   <script src="https://comments.example.org/embed.js" async></script>
 * Optional attributes: data-thread (default: the page's path), data-title, data-url,
 * data-page-size (top-level comments per page, default 20). Elements with
 * data-comment-count="thread-key" (and data-site) anywhere on the page show that count.
 * Safety: whatever readers wrote is inserted as text. Comment bodies arrive as HTML that the
 * server rendered from Markdown and sanitized; the widget still copies only allowed tags. */
(() => {
  "use strict";
  const script =
    document.currentScript || document.querySelector('script[src$="/embed.js"]');
  const API = new URL(script.src, location.href).origin + "/api/v1";
  const MAX_INDENT = 6; // deeper replies are shown, but not indented further
  const KEEP_DAYS = 30; // how long author tokens are kept in this browser
  const REASONS = [
    ["offensive", "Offensive"],
    ["abusive", "Abusive or harassing"],
    ["spam", "Spam"],
    ["other", "Something else"],
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
    const headers = {};
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
      return "Could not reach the comment service. Check your connection and try again.";
    }
    if (r.status === 429) {
      const wait = parseInt(r.retryAfter, 10);
      return "You are sending too much too fast. " +
        (wait > 0 ? `Please try again in ${wait} seconds.` : "Please try again later.");
    }
    return (r.data && r.data.detail) || `The comment service answered with an error (${r.status}).`;
  }

  const timeFormat = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  const UNITS = [
    ["year", 31536e3], ["month", 2592e3], ["week", 604800], ["day", 86400],
    ["hour", 3600], ["minute", 60],
  ];
  function ago(iso) {
    const seconds = (Date.parse(iso) - Date.now()) / 1000;
    for (const [unit, size] of UNITS) {
      if (Math.abs(seconds) >= size) return timeFormat.format(Math.round(seconds / size), unit);
    }
    return "just now";
  }

  const STYLE = `
:host{all:initial;display:block;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1f2328;--accent:#0b57d0;--muted:#57606a;--line:#d0d7de;--bad:#b3261e}
*{box-sizing:border-box}[hidden]{display:none!important}
h2{font-size:1.25rem;margin:0 0 .5rem}
ol{list-style:none;margin:0;padding:0}
.replies{margin-left:1rem;padding-left:.75rem;border-left:2px solid var(--line)}
.replies.flat{margin-left:0;padding-left:0;border-left:0}
.comment{margin:.75rem 0}
.meta{display:flex;flex-wrap:wrap;gap:.15rem .5rem;align-items:baseline;margin:0;font-size:.875rem;color:var(--muted)}
.author{font-weight:600;color:#1f2328;overflow-wrap:anywhere}
.badge{font-size:.8rem;padding:0 .45rem;border-radius:1rem;background:#fff8c5;border:1px solid #d4a72c;color:#5c4400}
.badge.pinned{background:#ddf4ff;border-color:#54aeff;color:#0a3069}
.closed{margin:.5rem 0 1rem;padding:.5rem .75rem;border:1px solid var(--line);border-radius:8px;color:var(--muted)}
.badge.gone{background:#ffebe9;border-color:#ff8182;color:#82071e}
.body{overflow-wrap:anywhere}.body p{margin:.25rem 0}
.body pre{overflow-x:auto;background:#f6f8fa;padding:.5rem;border-radius:6px}
.body blockquote{margin:.25rem 0;padding-left:.75rem;border-left:3px solid var(--line);color:var(--muted)}
a{color:var(--accent)}.tombstone{color:var(--muted);font-style:italic;margin:.25rem 0}
.actions{display:flex;flex-wrap:wrap;gap:.25rem;margin-top:.15rem}
button{font:inherit;font-size:.875rem;line-height:1.4;padding:.3rem .7rem;border:1px solid var(--line);
border-radius:6px;background:#f6f8fa;color:#1f2328;cursor:pointer}
.actions button{background:none;border-color:transparent;color:var(--muted);padding:.1rem .4rem}
.actions button:hover{color:#1f2328;background:#f6f8fa}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
button:disabled{opacity:.6;cursor:default}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
form{margin:.5rem 0 1rem;padding:.75rem;border:1px solid var(--line);border-radius:8px;background:#fff}
.row{display:flex;flex-wrap:wrap;gap:0 .75rem}.row>.field{flex:1 1 12rem}
.field{margin-bottom:.5rem}label,legend{display:block;font-weight:600;font-size:.9rem;margin-bottom:.15rem}
input,textarea{width:100%;font:inherit;padding:.4rem .5rem;border:1px solid #8c959f;border-radius:6px;
background:#fff;color:#1f2328}textarea{resize:vertical;min-height:5rem}
input[type=radio],input[type=checkbox]{width:auto;margin:0}.choice{display:flex;gap:.4rem;align-items:center}
.choice label{font-weight:400;margin:0}fieldset{border:0;padding:0;margin:0 0 .5rem}
[aria-invalid=true]{border-color:var(--bad);box-shadow:0 0 0 1px var(--bad)}
.note{margin:.15rem 0 0;font-size:.8rem;color:var(--muted)}
.error{margin:.15rem 0 0;font-size:.875rem;color:var(--bad)}.error:empty{margin:0}
.warning{border:1px solid #d4a72c;background:#fff8c5;border-radius:6px;padding:.5rem .75rem;margin:.5rem 0}
.warning p,.warning ul{margin:.25rem 0}
.buttons{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:.5rem}
.notice{margin:.25rem 0;color:var(--muted)}.notice:empty{margin:0}
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
      const root = host.attachShadow({ mode: "open" });
      addStyles(root);
      this.heading = h("h2", { id: "cw-heading" }, "Comments");
      this.notice = h("p", { class: "notice", role: "status" });
      this.loadError = h("div", { class: "error", role: "alert" });
      this.list = h("ol", { class: "list", "aria-label": "Comments" });
      this.more = h("button", { type: "button", hidden: true, onclick: () => this.load(true) },
        "Show more comments");
      const form = this.commentForm({ label: "Write a comment" });
      this.form = form.form;
      this.closedNote = h("p", { class: "closed", hidden: true }, "Comments are closed");
      root.append(h("section", { "aria-labelledby": "cw-heading" },
        this.heading, this.notice, this.closedNote, form.form, this.loadError, this.list,
        this.more));
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
      let query = `?thread=${enc(this.thread)}&limit=${this.pageSize}`;
      if (more && this.cursor) query += `&cursor=${enc(this.cursor)}`;
      const r = await api("GET", `/sites/${enc(this.site)}/comments${query}`, undefined,
        this.tokens());
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
        const retry = h("button", { type: "button", onclick: () => this.load(more) }, "Try again");
        const why = r.status === 0
          ? "the comment service could not be reached, or does not accept this page."
          : problemText(r);
        this.loadError.replaceChildren(h("p", {}, `Comments could not be loaded: ${why}`), retry);
      }
      this.showCount();
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
      this.heading.textContent = this.count === 0 ? "No comments yet"
        : this.count === 1 ? "1 comment" : `${this.count} comments`;
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
        li: h("li", { class: "comment" }),
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
        item.article.setAttribute("aria-label", "Removed comment");
        item.article.replaceChildren(h("p", { class: "tombstone" }, "This comment was removed."));
        return;
      }
      const kind = item.depth ? "Reply" : "Comment";
      item.article.setAttribute("aria-label", `${kind} by ${c.author_name}`);
      const badge = {
        pending: ["Awaiting moderation", "badge"],
        held: ["Awaiting moderation", "badge"],
        hidden: ["Not published: removed by moderation", "badge gone"],
      }[c.status];
      const when = new Date(c.created_at);
      const meta = h("p", { class: "meta" },
        h("span", { class: "author" }, c.author_name),
        h("time", { datetime: c.created_at, title: when.toLocaleString() }, ago(c.created_at)),
        c.edited_at ? h("span", {}, "(edited)") : null,
        c.pinned ? h("span", { class: "badge pinned" }, "Pinned") : null,
        badge ? h("span", { class: badge[1] }, badge[0]) : null,
        badge && own ? h("span", {}, "only you can see it") : null);
      const actions = h("div", { class: "actions" });
      const toggle = (label, aria, open) => {
        const button = h("button", { type: "button", "aria-label": aria, "aria-expanded": "false",
          onclick: () => this.openSlot(item, button, open) }, label);
        actions.append(button);
        return button;
      };
      if (c.status === "visible" && !this.closed) {
        toggle("Reply", `Reply to ${c.author_name}`, () => this.replyForm(item));
        if (!own) toggle("Report", `Report comment by ${c.author_name}`, () => this.flagForm(item));
      }
      if (own && this.editable(c.id) && c.status !== "hidden") {
        if (c.status !== "pending") {
          toggle("Edit", "Edit your comment", () => this.editForm(item));
        }
        toggle("Delete", "Delete your comment", () => this.deleteConfirm(item));
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
          this.field(ctx, "name", "Name", name),
          this.field(ctx, "email", "Email (optional, never shown)",
            h("input", { type: "email", autocomplete: "email", maxlength: "254" }))));
        form.append(this.checkbox(ctx, "notify", "Email me when someone replies"));
        const trapId = uid("website");
        ctx.trap = h("input", { type: "text", id: trapId, name: "website", tabindex: "-1",
          autocomplete: "off" });
        form.append(h("div", { class: "hp", "aria-hidden": "true" },
          h("label", { for: trapId }, "Leave this field empty"), ctx.trap));
      }
      const body = h("textarea", { rows: "4", maxlength: "10000", required: true,
        "aria-required": "true" });
      if (edit) body.value = (this.own(edit.c.id) || {}).body || "";
      form.append(this.field(ctx, "body",
        edit ? "Your comment" : parentId ? "Your reply" : "Your comment", body,
        "Markdown works: **bold**, *italic*, [a link](https://example.org), > quote, `code`."));
      ctx.warning = h("div", { class: "warning", role: "alert", hidden: true });
      ctx.general = h("p", { class: "error", role: "alert" });
      ctx.submit = h("button", { type: "submit", class: "primary" },
        edit ? "Save" : parentId ? "Post reply" : "Post comment");
      form.append(ctx.warning, ctx.general, h("div", { class: "buttons" }, ctx.submit,
        onCancel ? h("button", { type: "button", onclick: onCancel }, "Cancel") : null));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        this.send(ctx, false);
      });
      const first = ctx.fields.name && !ctx.fields.name.control.value ? ctx.fields.name : ctx.fields.body;
      return { form, focus: first.control, ctx };
    }

    replyForm(item) {
      return this.commentForm({ label: `Reply to ${item.c.author_name}`, parentId: item.c.id,
        onCancel: () => this.closeSlot(item, true) });
    }

    editForm(item) {
      return this.commentForm({ label: "Edit your comment", edit: item,
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
        h("p", {}, h("strong", {}, "Before you post: "),
          "your comment may break our community guidelines."),
        h("ul", {}, concerns.map((concern) => h("li", {}, concern.guideline))),
        h("p", {}, "You can edit it, or post it anyway: a moderator will then review it " +
          "before anyone else can see it."),
        h("div", { class: "buttons" },
          h("button", { type: "button", onclick: () => { ctx.warning.hidden = true; body.focus(); } },
            "Edit my comment"),
          h("button", { type: "button", onclick: again }, "Post anyway")));
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
        this.announce("Thank you.");
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
      (parent ? parent.replies : this.list).append(li);
      if (parent) this.closeSlot(parent);
      else ctx.fields.body.control.value = "";
      if (c.status === "visible") {
        this.count += 1;
        this.showCount();
      }
      this.items.get(c.id).article.focus();
      this.announce(c.status === "visible" ? "Your comment was published."
        : "Your comment was received and is awaiting moderation.");
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
        this.announce(data.status === "visible" ? "Your comment is now published."
          : data.status === "hidden" ? "Your comment was not published."
            : "Your comment is awaiting moderation.");
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
      const choices = REASONS.map(([value, label]) => {
        const id = uid("reason");
        return h("div", { class: "choice" },
          h("input", { type: "radio", name: group, id, value }), h("label", { for: id }, label));
      });
      const reasonError = h("p", { class: "error", id: `${group}-error` });
      const fieldset = h("fieldset", { "aria-describedby": `${group}-error` },
        h("legend", {}, "Why are you reporting this comment?"), choices, reasonError);
      ctx.fields.reason = { control: fieldset.querySelector("input"), error: reasonError };
      const form = ctx.form = h("form", { class: "flag", novalidate: true,
        "aria-label": `Report comment by ${item.c.author_name}` }, fieldset,
      this.field(ctx, "note", "Note for the moderators (optional)",
        h("textarea", { rows: "2", maxlength: "1000" })));
      ctx.general = h("p", { class: "error", role: "alert" });
      ctx.submit = h("button", { type: "submit", class: "primary" }, "Send report");
      form.append(ctx.general, h("div", { class: "buttons" }, ctx.submit,
        h("button", { type: "button", onclick: () => this.closeSlot(item, true) }, "Cancel")));
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
          "Thank you for your report. A moderator will take a look.");
        item.slot.replaceChildren(thanks);
        thanks.focus();
        const button = item.article.querySelector("[aria-expanded=true]");
        if (button) {
          button.textContent = "Reported";
          button.disabled = true;
          button.removeAttribute("aria-expanded");
          button.removeAttribute("aria-label");
        }
      });
      return { form, focus: ctx.fields.reason.control };
    }

    deleteConfirm(item) {
      const ctx = { fields: {}, general: h("p", { class: "error", role: "alert" }) };
      const yes = h("button", { type: "submit", class: "primary" }, "Delete");
      const form = h("form", { "aria-label": "Delete your comment" },
        h("p", {}, "Delete your comment? This cannot be undone."), ctx.general,
        h("div", { class: "buttons" }, yes,
          h("button", { type: "button", onclick: () => this.closeSlot(item, true) }, "Keep it")));
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
        this.announce("Your comment was deleted.");
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
        if (n !== undefined) el.textContent = n === 1 ? "1 comment" : `${n} comments`;
      }
    }
  }

  function start() {
    const host = document.getElementById("comments");
    if (host && !host.shadowRoot && host.dataset.site) new Widget(host);
    fillCounts(host && host.dataset.site);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
