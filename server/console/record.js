// One record: conflicting values side by side (keep one in one click, or
// write a new one), status, review and referral decisions, possible
// duplicates, every field, and the history of ops. Every decision is an
// ordinary op pushed from this browser's device, so it syncs back to the
// tablets like any other write.
import * as api from "./api.js";
import { h, replace, hlcTime, show, words, dateInput, today } from "./dom.js";
import { ctx, ui, busy, guard, userName, deviceName, lastList } from "./app.js";
import { seen, reasonBadges } from "./queue.js";
import { historyCard, valueText } from "./history.js";

const SAVED = "Saved. The tablets receive it at their next sync.";

const referralServices = ["shelter", "medical", "psychological", "legal", "return", "compensation", "other"];

const digestRe = /^[0-9a-f]{64}$/;

// Photos the browser shows inline, by the media type the server sniffed
// and serves (never the type the entry claims).
const inlineTypes = new Set(["image/jpeg", "image/png"]);

/** A blob as a data: URL (the console's CSP allows data: images only). */
function dataURL(blob) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(blob);
  });
}

/** The file of a live attachments entry, downloaded (audited by the server). */
function attachmentFile(id, digest) {
  return api.call("GET", api.path`/v1/records/${id}/attachments/` + digest, undefined, true);
}

/**
 * One attachment: its name, type, size and caption; a photo shown inline,
 * any other file a download link. Every view is a download of the file,
 * which the server writes to the audit log for a supervisor.
 */
function attachmentItem(id, e) {
  const v = e.value;
  const kb = Math.max(1, Math.round(v.size / 1024));
  const li = h("li", { class: "attachment", "data-digest": v.digest },
    h("div", {}, h("strong", {}, v.name || "file"), h("span", { class: "muted small" }, ` ${v.media_type}, ${kb} KB — ${userName(e.user)}, ${hlcTime(e.hlc)}`)),
    v.caption ? h("div", { class: "caption" }, v.caption) : null);
  if (inlineTypes.has(v.media_type)) {
    const frame = h("div", { class: "attachment-frame" });
    li.append(frame);
    attachmentFile(id, v.digest)
      .then((blob) => inlineTypes.has(blob.type) ? dataURL(blob) : null)
      .then((url) => frame.append(url ? h("img", { class: "attachment-image", src: url, alt: v.caption || v.name || "attached photo" })
        : h("p", { class: "muted small" }, "Not a photo the console can show; download it instead.")))
      .catch((err) => frame.append(h("p", { class: "error" }, err.message)));
  }
  li.append(h("button", {
    type: "button", class: "secondary", "data-action": "download",
    onclick: () => guard(async () => {
      const blob = await attachmentFile(id, v.digest);
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: v.name || v.digest });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    }),
  }, "Download"));
  return li;
}

/** The record's attachments (live entries only: a redacted entry is a removed file). */
function attachmentsCard(rec) {
  const st = rec.fields.attachments;
  const live = st && st.entries ? st.entries.filter((e) => !e.redacted && e.value && digestRe.test(e.value.digest)) : [];
  if (!live.length) return null;
  return h("div", { class: "card attachments" }, h("h2", {}, "Attachments"),
    h("ul", { class: "attachments" }, live.map((e) => attachmentItem(rec.id, e))));
}

/** The siblings of a register's state, shown value first. */
function siblings(state) {
  if (!state || !("op" in state)) return [];
  return [{ value: state.value, op: state.op, hlc: state.hlc, device: state.device, user: state.user }, ...(state.conflicts || [])];
}

/** An input for a register value of decl; read() returns the JSON value. */
function inputFor(decl, current, id) {
  let el;
  let read = () => el.value;
  if (decl.values && decl.values.length) {
    el = h("select", { id }, decl.values.map((v) => h("option", { value: v, selected: v === current }, words(v))));
  } else if (decl.type === "bool") {
    el = h("select", { id }, h("option", { value: "true", selected: current === true }, "yes"), h("option", { value: "false", selected: current === false }, "no"));
    read = () => el.value === "true";
  } else if (decl.type === "number") {
    el = h("input", { id, type: "number", step: "any", value: typeof current === "number" ? current : "" });
    read = () => {
      if (el.value === "") throw new Error("Enter a number.");
      return Number(el.value);
    };
  } else if (decl.type === "date") {
    // ISO dates whatever the browser's language (see dateInput).
    const d = dateInput(id, typeof current === "string" ? current : "");
    el = d.el;
    read = () => {
      const v = d.read();
      if (!v) throw new Error("Enter a date as YYYY-MM-DD, for example 2026-11-03.");
      return v;
    };
  } else {
    el = h("input", { id, type: "text", value: typeof current === "string" ? current : "", maxlength: decl.format === "iso3166_alpha2" ? 2 : null, autocomplete: "off" });
    read = () => {
      const v = el.value.trim();
      if (!v) throw new Error("Enter a value.");
      return decl.format === "iso3166_alpha2" ? v.toUpperCase() : v;
    };
  }
  return { el, read };
}

export async function recordView(id) {
  if (!api.isID(id)) throw new api.APIError("not_found", "This is not a record's address.", 404);
  const root = h("section", { class: "view-record", "data-record": id });
  const fields = ctx.schema.kinds.identification.fields;

  async function save(ops, message = SAVED) {
    await api.push(ops);
    seen.delete(id); // the reasons the queue gave are out of date now
    await render();
    ui.message(message);
  }

  /**
   * The page's one control that sets the status: in the status conflict's
   * card while the status is in conflict, else in the Decisions card. Its
   * base names every sibling, so it also resolves a conflict.
   */
  function statusControl(rec) {
    const status = siblings(rec.fields.status);
    const statusInput = inputFor(fields.status, rec.fields.status && rec.fields.status.value, "decide-status");
    const setStatus = h("button", { type: "button", "data-action": "set-status" }, "Set status");
    setStatus.addEventListener("click", busy(setStatus, () => save([
      api.op(rec.id, rec.kind, "status", "set", statusInput.read(), status.map((s) => s.op)),
    ])));
    return h("div", { class: "status-control" },
      h("label", { for: "decide-status" }, status.length > 1 ? "Or set another status" : "Status"),
      h("div", { class: "inline" }, statusInput.el, setStatus),
      h("p", { class: "muted small" }, "Identified and not a victim are formal statuses only supervisors set."));
  }

  function conflictCard(rec, name, state) {
    const sibs = siblings(state);
    const base = sibs.map((s) => s.op);
    const decl = fields[name] || { type: "string" };
    let newValue;
    if (name === "status") {
      newValue = statusControl(rec);
    } else {
      const input = inputFor(decl, state.value, `new-${name}`);
      const saveNew = h("button", { type: "button", "data-action": "write-new" }, "Save new value");
      saveNew.addEventListener("click", busy(saveNew, () => save([api.op(rec.id, rec.kind, name, "set", input.read(), base)])));
      newValue = h("div", { class: "new-value" },
        h("label", { for: `new-${name}` }, "Or write a new value"),
        h("div", { class: "inline" }, input.el, saveNew));
    }
    return h("div", { class: "conflict card", "data-field": name },
      h("h3", {}, `${words(name)}: ${sibs.length} people said different things`),
      h("div", { class: "siblings" }, sibs.map((s, i) => {
        const keep = h("button", { type: "button", "data-action": "keep", "data-value": JSON.stringify(s.value) }, "Keep this value");
        keep.addEventListener("click", busy(keep, () => save([api.op(rec.id, rec.kind, name, "set", s.value, base)])));
        return h("div", { class: "sibling", "data-op": s.op },
          h("div", { class: "sibling-value" }, valueText(name, s.value)),
          h("dl", { class: "meta" },
            h("dt", {}, "Written by"), h("dd", {}, userName(s.user)),
            h("dt", {}, "On device"), h("dd", {}, deviceName(s.device)),
            h("dt", {}, "At"), h("dd", {}, hlcTime(s.hlc)),
          ),
          i === 0 ? h("p", { class: "muted small" }, "Shown now (latest)") : null,
          keep);
      })),
      newValue);
  }

  function decisions(rec) {
    const f = rec.fields;
    const review = siblings(f.review_status);
    const reviewButton = (value, label) => {
      const b = h("button", { type: "button", class: value === "reviewed" ? "" : "secondary", "data-action": `review-${value}` }, label);
      b.addEventListener("click", busy(b, () => save([api.op(rec.id, rec.kind, "review_status", "set", value, review.map((s) => s.op))],
        value === "reviewed" ? "Marked as reviewed; the record leaves the queue until something new arrives. " + SAVED : SAVED)));
      return b;
    };

    const service = h("select", { id: "ref-service" }, referralServices.map((s) => h("option", { value: s }, words(s))));
    const org = h("input", { id: "ref-org", type: "text", autocomplete: "off", placeholder: "Organisation" });
    const country = h("input", { id: "ref-country", type: "text", maxlength: 2, autocomplete: "off", placeholder: "e.g. DE" });
    const abroad = h("input", { id: "ref-abroad", type: "checkbox" });
    const date = dateInput("ref-date", today(), "the referral's date");
    const refer = h("button", { type: "button", "data-action": "refer" }, "Add referral");
    refer.addEventListener("click", busy(refer, () => {
      const entry = { service: service.value, date: date.read(), decided_by: "supervisor" };
      if (org.value.trim()) entry.organisation = org.value.trim();
      const c = country.value.trim().toUpperCase();
      if (c) {
        if (!/^[A-Z]{2}$/.test(c)) throw new Error("The destination country is a two-letter code such as DE.");
        entry.destination_country = c;
      }
      if (abroad.checked) entry.cross_border = true;
      if (!entry.date) throw new Error("Enter the referral's date as YYYY-MM-DD.");
      return save([api.op(rec.id, rec.kind, "referrals", "append", entry)]);
    }));

    return h("div", { class: "card decisions" },
      h("h2", {}, "Decisions"),
      h("div", { class: "decision" },
        siblings(f.status).length > 1
          ? [h("span", { class: "label" }, `Status: in conflict`),
            h("p", { class: "muted small", id: "status-in-conflict" }, "Keep one of the conflicting values above, or set another status there.")]
          : statusControl(rec)),
      h("div", { class: "decision" },
        h("span", { class: "label" }, `Review: ${f.review_status ? words(f.review_status.value) : "not reviewed yet"}`),
        h("div", { class: "inline" }, reviewButton("reviewed", "Mark reviewed"), reviewButton("needs_info", "Ask the team for more information"))),
      h("div", { class: "decision" },
        h("span", { class: "label" }, "Refer"),
        h("div", { class: "grid2" },
          h("label", { for: "ref-service" }, "Service"), service,
          h("label", { for: "ref-org" }, "Organisation"), org,
          h("label", { for: "ref-country" }, "Destination country"), country,
          h("label", { for: "ref-abroad" }, "Cross-border (TRM)"), abroad,
          h("label", { for: "ref-date" }, "Date"), date.el),
        refer));
  }

  async function duplicates(rec) {
    const box = h("div", { class: "card duplicates" }, h("h2", {}, "Possible duplicates"));
    const r = await guard(() => api.get(api.path`/v1/review/duplicates?record=${rec.id}&include_linked=true`));
    if (!r) return box;
    if (!r.pairs.length) {
      box.appendChild(h("p", { class: "muted" }, "None found."));
      return box;
    }
    box.appendChild(h("p", { class: "muted small" }, r.rule));
    for (const p of r.pairs) {
      const i = p.records[0] === rec.id ? 1 : 0;
      const other = p.records[i];
      const b = h("button", { type: "button", class: p.linked ? "secondary" : "", "data-action": p.linked ? "unlink" : "link" }, p.linked ? "Unlink" : "Link these records");
      b.addEventListener("click", busy(b, async () => {
        await api.post("/v1/review/links", { records: [rec.id, other], unlink: p.linked });
        await render();
        ui.message(p.linked ? "The link was removed (and written to the audit log)." : "Linked. Both records are kept; the link is written to the audit log.");
      }));
      box.appendChild(h("div", { class: "pair" },
        h("a", { href: `#/record/${other}` }, p.codes[i] || other),
        h("span", { class: "muted" }, ` met ${p.days_apart} day${p.days_apart === 1 ? "" : "s"} apart · ${Object.values(p.matched).join(", ")}`),
        p.linked ? h("span", { class: "badge" }, "Linked") : null,
        b));
    }
    return box;
  }

  function fieldRows(rec) {
    const rows = [];
    for (const name of Object.keys(rec.fields).sort()) {
      const st = rec.fields[name];
      let value;
      if ("values" in st) {
        value = st.values.length ? st.values.map((v) => valueText(name, v)).join("; ") : "none";
      } else if ("entries" in st) {
        value = h("ul", { class: "entries" }, st.entries.map((e) => h("li", {},
          e.redacted ? h("em", {}, "Erased by a supervisor") : (e.value && typeof e.value.text === "string" ? e.value.text : show(e.value)),
          h("span", { class: "muted small" }, ` — ${userName(e.user)}, ${hlcTime(e.hlc)}`))));
      } else {
        value = valueText(name, st.value);
        if (st.conflicts) value = h("span", {}, value, " ", h("span", { class: "badge badge-conflict" }, "in conflict"));
      }
      rows.push(h("tr", { "data-field": name }, h("th", { scope: "row" }, words(name)), h("td", {}, value)));
    }
    return h("table", { class: "fields" }, h("tbody", {}, rows));
  }

  async function render() {
    const rec = await api.get(api.path`/v1/records/${id}?history=true`);
    api.observe(rec.hlc);
    const f = rec.fields;
    // The deleted register is served at the top level only; its siblings
    // (set ops no other deleted op names in its base) come from the history.
    const del = (rec.history || []).filter((o) => o.field === "deleted" && o.action === "set");
    const named = new Set(del.flatMap((o) => o.base));
    const delSibs = del.filter((o) => !named.has(o.id)).reverse();
    if (delSibs.length > 1) {
      const [shown, ...rest] = delSibs.map((o) => ({ value: o.value, op: o.id, hlc: o.hlc, device: o.device, user: o.user }));
      f.deleted = { ...shown, conflicts: rest };
      fields.deleted = fields.deleted || { type: "bool" };
    }
    const conflicted = Object.keys(f).filter((n) => f[n].conflicts && f[n].conflicts.length).sort();
    const team = f.team && ctx.teams.get(f.team.value);
    const dup = await duplicates(rec);
    replace(root,
      h("p", {}, lastList === "records" ? h("a", { href: "#/records" }, "← Back to the records") : h("a", { href: "#/queue" }, "← Back to the queue")),
      h("h1", {}, f.code ? show(f.code.value) : "Record"),
      h("p", { class: "muted" }, [team && team.name, f.region && show(f.region.value), f.status && `status ${valueText("status", f.status.value)}`,
        rec.deleted ? "deleted" : null].filter(Boolean).join(" · ")),
      seen.has(rec.id) ? h("p", { class: "queue-badges" }, h("span", { class: "muted small" }, "In the queue for: "), reasonBadges(seen.get(rec.id))) : null,
      conflicted.length
        ? h("section", { class: "conflicts" }, h("h2", {}, "Conflicting values"),
          h("p", { class: "muted" }, "Two tablets wrote different values while offline. Keep one, or write a new value; either replaces all of them."),
          conflicted.map((n) => conflictCard(rec, n, f[n])))
        : h("p", { class: "ok" }, "No conflicting values."),
      decisions(rec),
      dup,
      attachmentsCard(rec),
      h("div", { class: "card" }, h("h2", {}, "All fields"), fieldRows(rec)),
      historyCard(rec, fields));
  }

  await render();
  return root;
}
