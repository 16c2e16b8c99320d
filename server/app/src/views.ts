/**
 * The app's screens, drawn from the records held in memory (App.records):
 * the identifications list with search by code and filters, a new
 * identification, a record (details, indicators by ILO dimension,
 * conflicts, notes, consent, referrals, delete/undelete), site visits and
 * the sync/device screen. Every write goes through App.write.
 */
import { ATTACHMENT_TYPES, type Edit, type Entry, type FieldDecl, FieldsyncError, parseTimestamp, type Record, TransportError } from "@fieldsync/client";

import { checkboxes, checkedValues, type Child, field, h, replace, select } from "./dom.js";
import { pinCard } from "./lock.js";
import { type App } from "./state.js";
import { fieldLabel, T, valueLabel } from "./strings.js";

/** Ctx is what the screens need from the page. */
export interface Ctx {
  readonly app: App;
  say(text: string, kind?: "info" | "error"): void;
  /** go shows the screen of hash, then message. */
  go(hash: string, message?: string): void;
  /** clean marks the screen as saved (updates may redraw it again). */
  clean(): void;
  logout(force: boolean): Promise<void>;
}

/** The list's search and filters, kept while the app runs. */
const listState = { code: "", status: "", attention: false, conflicts: false, deleted: false };

/** renderView draws the screen the address names into el. */
export function renderView(ctx: Ctx, el: HTMLElement): void {
  if (location.hash !== opened.hash) {
    releaseFiles();
    opened.hash = location.hash;
  }
  const a = ctx.app;
  const visitor = a.user?.role === "visitor";
  const [route, id] = location.hash.replace(/^#\/?/, "").split("/");
  switch (route) {
    case "new":
      return newIdentification(ctx, el);
    case "record":
      return visitor ? visits(ctx, el) : recordView(ctx, el, id ?? "");
    case "visits":
      return visits(ctx, el);
    case "visit":
      return visitView(ctx, el, id ?? "");
    case "status":
      return statusView(ctx, el);
    case "devices":
      return devicesView(ctx, el);
    default:
      return visitor ? visits(ctx, el) : list(ctx, el);
  }
}

// ---- helpers

/** formatTime writes a Unix ms time as "YYYY-MM-DD HH:MM" in the device's zone. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

function today(): string {
  return formatTime(Date.now()).slice(0, 10);
}

function str(r: Record, f: string): string {
  const v = r.value(f);
  return typeof v === "string" ? v : v === undefined || v === null ? "" : String(v);
}

function decl(a: App, kind: string, f: string): FieldDecl | undefined {
  return a.schema?.kinds[kind]?.fields[f];
}

/** values returns a field's allowed values this user may write (and current, if restricted). */
function writableValues(a: App, kind: string, f: string, current: string): string[] {
  const d = decl(a, kind, f);
  const role = a.user?.role ?? "";
  return (d?.values ?? []).filter((v) => v === current || (d?.restricted_values?.[v] ?? [role]).includes(role));
}

/** mayWrite reports whether this user's role may write value to field. */
function mayWrite(a: App, kind: string, f: string, value?: string): boolean {
  const d = decl(a, kind, f);
  const role = a.user?.role ?? "";
  if (d === undefined || !d.writers.includes(role)) {
    return false;
  }
  return value === undefined || (d.restricted_values?.[value] ?? [role]).includes(role);
}

/** conflicts returns the fields whose siblings hold different values (equal concurrent values are no conflict to settle). */
function conflicts(r: Record): string[] {
  return r.conflicts().filter((f) => new Set(r.siblings(f).map((s) => s.value)).size > 1);
}

function identifications(a: App): Record[] {
  return [...a.records.values()].filter((r) => r.kind === "identification");
}

/** needsAttention: the supervisor asked for information, or a change of it was refused. */
function needsAttention(a: App, r: Record): boolean {
  return r.value("review_status") === "needs_info" || a.rejectedRecords.has(r.id);
}

function fail(ctx: Ctx, e: unknown): void {
  ctx.say(e instanceof FieldsyncError ? e.message : String((e as Error).message), "error");
}

function who(a: App, user: string, device: string, hlc: string): string {
  const u = user === a.user?.id || user === "" ? T.you : T.otherMember;
  const d = device === a.replica.device ? T.thisDevice : T.otherDevice(device.slice(0, 8));
  return T.writtenBy(u, d, formatTime(parseTimestamp(hlc).ms));
}

function title(text: string): HTMLHeadingElement {
  return h("h1", {}, text);
}

// ---- list

function list(ctx: Ctx, el: HTMLElement): void {
  const a = ctx.app;
  const statuses = decl(a, "identification", "status")?.values ?? [];
  const results = h("div", { id: "results" });
  const code = h("input", { type: "search", value: listState.code, autocomplete: "off", oninput: (e) => update(() => (listState.code = (e.target as HTMLInputElement).value)) });
  const status = select(statuses, (v) => valueLabel("status", v), listState.status, T.filterAny);
  status.addEventListener("change", () => update(() => (listState.status = status.value)));
  const toggle = (id: string, label: string, key: "attention" | "conflicts" | "deleted") =>
    h(
      "div",
      { class: "check" },
      h("input", { type: "checkbox", id, checked: listState[key], onchange: (e) => update(() => (listState[key] = (e.target as HTMLInputElement).checked)) }),
      h("label", { for: id }, label),
    );
  const lead = a.user?.role === "team_lead";
  function update(change: () => void): void {
    change();
    ctx.clean();
    drawResults();
  }
  function drawResults(): void {
    const all = identifications(a).filter((r) => !r.deleted || (lead && listState.deleted));
    const needle = listState.code.trim().toLowerCase();
    const shown = all
      .filter((r) => needle === "" || str(r, "code").toLowerCase().includes(needle))
      .filter((r) => listState.status === "" || r.value("status") === listState.status)
      .filter((r) => !listState.attention || needsAttention(a, r))
      .filter((r) => !listState.conflicts || conflicts(r).length > 0)
      .sort((x, y) => (str(y, "encounter_date") + str(y, "code")).localeCompare(str(x, "encounter_date") + str(x, "code")));
    replace(
      results,
      h("p", { id: "list-count", class: "count" }, T.listCount(shown.length, all.length)),
      shown.length === 0
        ? h("p", {}, T.listEmpty)
        : h(
            "ul",
            { class: "items", id: "list" },
            shown.map((r) =>
              h(
                "li",
                {},
                h(
                  "a",
                  { class: "item", href: "#/record/" + r.id, "data-record": r.id, "data-code": str(r, "code") },
                  h("span", { class: "code" }, str(r, "code") || T.noCode),
                  h("span", { class: "meta" }, [valueLabel("status", str(r, "status")), str(r, "encounter_date"), str(r, "location")].filter((x) => x !== "").join(" · ")),
                  h(
                    "span",
                    { class: "badges" },
                    conflicts(r).length > 0 && h("span", { class: "badge bad" }, T.badgeConflict),
                    needsAttention(a, r) && h("span", { class: "badge warn" }, T.badgeAttention),
                    a.unsentRecords.has(r.id) && h("span", { class: "badge" }, T.badgeUnsent),
                    r.deleted && h("span", { class: "badge" }, T.badgeDeleted),
                  ),
                ),
              ),
            ),
          ),
    );
  }
  replace(
    el,
    title(T.navList),
    h(
      "div",
      { class: "filters card", "data-live": "" },
      field("search-code", T.search, code, T.searchHint),
      field("filter-status", T.filterStatus, status),
      toggle("filter-attention", T.filterAttention, "attention"),
      toggle("filter-conflicts", T.filterConflicts, "conflicts"),
      lead && toggle("filter-deleted", T.filterDeleted, "deleted"),
    ),
    results,
  );
  drawResults();
}

// ---- identification form (new and details)

const FORM_REGISTERS = ["code", "encounter_date", "location", "region", "age_estimate", "citizenship"];
const FORM_ENUMS = ["status", "sex", "age_group"];
const FORM_SETS = ["exploitation_types", "recruitment_channels"];

function identificationForm(a: App, r: Record | undefined, prefix: string): HTMLElement[] {
  const out: HTMLElement[] = [];
  for (const f of FORM_REGISTERS) {
    const type = f === "encounter_date" ? "date" : f === "age_estimate" ? "number" : "text";
    const value = r === undefined ? (f === "encounter_date" ? today() : "") : str(r, f);
    const input = h("input", { type, name: f, value, autocomplete: "off", maxlength: f === "citizenship" ? 2 : undefined, min: f === "age_estimate" ? 0 : undefined });
    out.push(field(`${prefix}-${f}`, fieldLabel(f), input));
  }
  for (const f of FORM_ENUMS) {
    const current = r === undefined ? (f === "status" ? "potential" : "") : str(r, f);
    const s = select(writableValues(a, "identification", f, current), (v) => valueLabel(f, v), current, current === "" && !(r === undefined && f === "status") ? "—" : undefined);
    s.name = f;
    out.push(field(`${prefix}-${f}`, fieldLabel(f), s));
  }
  for (const f of FORM_SETS) {
    const values = decl(a, "identification", f)?.values ?? [];
    out.push(checkboxes(`${prefix}-${f}`, fieldLabel(f), values, (v) => valueLabel(f, v), new Set(r?.elements(f) ?? [])));
  }
  return out;
}

/** formEdits returns the edits that turn r (or nothing) into what the form says. */
function formEdits(form: HTMLFormElement, r: Record | undefined, prefix: string): Edit[] {
  const edits: Edit[] = [];
  for (const f of [...FORM_REGISTERS, ...FORM_ENUMS]) {
    const el = form.elements.namedItem(f) as HTMLInputElement | HTMLSelectElement | null;
    let v: string | number = (el?.value ?? "").trim();
    if (v === "") {
      continue;
    }
    if (f === "citizenship") {
      v = v.toUpperCase();
    }
    if (f === "age_estimate") {
      v = Number(v);
    }
    const cur = r?.value(f);
    if (r !== undefined && cur === v) {
      continue;
    }
    edits.push({ field: f, action: "set", value: v });
    if (f === "age_group") {
      edits.push({ field: "child_presumed", action: "set", value: v !== "adult" });
    }
  }
  for (const f of FORM_SETS) {
    const want = checkedValues(form, `${prefix}-${f}`);
    const have = new Set(r?.elements(f) ?? []);
    for (const v of want) {
      if (!have.has(v)) {
        edits.push({ field: f, action: "add", value: v });
      }
    }
    for (const v of have) {
      if (!want.has(v)) {
        edits.push({ field: f, action: "remove", value: v });
      }
    }
  }
  return edits;
}

/** hostWeek returns the action week a visitor works for, if on the device. */
function hostWeek(a: App): Record | undefined {
  const id = a.user?.action_week;
  return [...a.records.values()].find((r) => r.kind === "action_week" && (id === undefined || r.id === id));
}

function newIdentification(ctx: Ctx, el: HTMLElement): void {
  const a = ctx.app;
  const visitor = a.user?.role === "visitor";
  const teams = a.user?.teams ?? [];
  const names = a.replica.session?.team_names ?? {};
  const week = visitor ? hostWeek(a) : undefined;
  if (visitor && week === undefined) {
    replace(el, title(T.visitorIdent), h("p", {}, T.noWeek));
    return;
  }
  const team = select(teams, (t) => names[t] ?? t, teams[0] ?? "");
  team.name = "team";
  const files = mayWrite(a, "identification", FIELD_ATTACHMENTS) ? fileFields("new") : undefined;
  const form = h(
    "form",
    { id: "new-form", class: "card" },
    visitor && h("p", { class: "note" }, T.visitorIntro),
    !visitor && teams.length > 1 && field("new-team", T.team, team),
    h("div", { class: "grid" }, identificationForm(a, undefined, "new")),
    files?.el,
    h("button", { type: "submit", id: "create" }, T.create),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void (async () => {
      const edits = formEdits(form, undefined, "new");
      if (!edits.some((x) => x.field === "code")) {
        ctx.say(T.codeRequired, "error");
        return;
      }
      const scope: Edit[] = visitor
        ? [
            { field: "team", action: "set", value: str(week!, "host_team") },
            { field: "action_week", action: "set", value: week!.id },
          ]
        : [{ field: "team", action: "set", value: team.value }];
      const file = files?.input.files?.[0];
      const problem = file === undefined ? "" : await checkFile(file);
      if (problem !== "") {
        ctx.say(problem, "error");
        return;
      }
      const id = crypto.randomUUID();
      try {
        await a.write(id, "identification", [...scope, { field: "identifier_type", action: "set", value: "first_responder" }, ...edits]);
      } catch (err) {
        fail(ctx, err);
        return;
      }
      let said = visitor ? T.savedVisitor : T.saved;
      if (file !== undefined) {
        try {
          await a.attach(id, file, files!.caption.value.trim());
        } catch (err) {
          said = T.attachSavedNotFile(await attachError(err, file));
        }
      }
      ctx.clean();
      ctx.go(visitor ? "#/visits" : "#/record/" + id, said);
    })();
  });
  replace(el, title(visitor ? T.visitorIdent : T.newTitle), form);
}

// ---- one identification

function recordView(ctx: Ctx, el: HTMLElement, id: string): void {
  const a = ctx.app;
  const r = a.records.get(id);
  if (r === undefined || r.kind !== "identification") {
    replace(el, title(T.recordNotFound), h("p", {}, h("a", { href: "#/list" }, T.back)));
    return;
  }
  const form = h("form", { id: "details-form", class: "card" }, h("h2", {}, T.details), h("div", { class: "grid" }, identificationForm(a, r, "ed")), h("button", { type: "submit", id: "save-details" }, T.saveDetails));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const edits = formEdits(form, r, "ed");
    if (edits.length === 0) {
      ctx.say(T.nothingChanged);
      return;
    }
    void write(ctx, r, edits);
  });
  const lead = mayWrite(a, "identification", "deleted");
  replace(
    el,
    h("p", {}, h("a", { href: "#/list", class: "back" }, T.back)),
    title(str(r, "code") || T.noCode),
    r.deleted && h("p", { class: "note warn", id: "deleted-note" }, T.deletedNote),
    conflictsCard(ctx, r),
    form,
    indicatorsCard(ctx, r),
    logCard(ctx, r, "notes", T.notes, noteForm(ctx, r, "notes")),
    attachmentsCard(ctx, r),
    logCard(ctx, r, "consent", T.consent, consentForm(ctx, r)),
    logCard(ctx, r, "referrals", T.referrals, referralForm(ctx, r)),
    lead &&
      h(
        "div",
        { class: "card" },
        h(
          "button",
          { type: "button", id: r.deleted ? "undelete" : "delete", class: r.deleted ? "" : "danger", onclick: () => void write(ctx, r, [{ field: "deleted", action: "set", value: !r.deleted }]) },
          r.deleted ? T.undelete : T.delete,
        ),
      ),
  );
}

async function write(ctx: Ctx, r: Record, edits: Edit[]): Promise<void> {
  try {
    ctx.clean();
    await ctx.app.write(r.id, r.kind, edits);
    ctx.say(T.saved);
  } catch (e) {
    fail(ctx, e);
  }
}

function shownValue(field: string, json: string): string {
  try {
    const v = JSON.parse(json) as unknown;
    return typeof v === "string" ? valueLabel(field, v) : JSON.stringify(v);
  } catch {
    return json;
  }
}

function conflictsCard(ctx: Ctx, r: Record): Child {
  const a = ctx.app;
  const fields = conflicts(r);
  if (fields.length === 0) {
    return null;
  }
  return h(
    "section",
    { class: "card conflicts", id: "conflicts", "aria-labelledby": "conflicts-title" },
    h("h2", { id: "conflicts-title" }, T.conflicts),
    h("p", {}, T.conflictIntro),
    fields.map((f) =>
      h(
        "div",
        { class: "conflict", "data-field": f },
        h("h3", {}, fieldLabel(f)),
        h(
          "div",
          { class: "siblings" },
          r.siblings(f).map((s, i) => {
            const value = JSON.parse(s.value) as unknown;
            const allowed = mayWrite(a, r.kind, f, typeof value === "string" ? value : undefined);
            return h(
              "div",
              { class: "sibling", "data-value": s.value },
              h("p", { class: "value" }, shownValue(f, s.value), i === 0 && h("span", { class: "badge" }, T.shownNow)),
              h("p", { class: "meta" }, who(a, s.user, s.device, s.hlc)),
              allowed
                ? h("button", { type: "button", "data-action": "keep", "data-value": s.value, onclick: () => void write(ctx, r, [{ field: f, action: "set", value: value as string }]) }, T.keep)
                : h("p", { class: "hint" }, T.keepNotAllowed),
            );
          }),
        ),
      ),
    ),
  );
}

function indicatorsCard(ctx: Ctx, r: Record): HTMLElement {
  const a = ctx.app;
  const child = r.value("age_group") !== "adult";
  const have = new Set(r.elements("indicators"));
  const byDim = new Map<string, HTMLElement[]>();
  for (const ind of a.indicators) {
    if (!ind.audiences.includes(child ? "child" : "adult") && !have.has(ind.code)) {
      continue;
    }
    const id = "ind-" + ind.code;
    const box = h("input", {
      type: "checkbox",
      id,
      name: "indicators",
      value: ind.code,
      checked: have.has(ind.code),
      onchange: (e) => void write(ctx, r, [{ field: "indicators", action: (e.target as HTMLInputElement).checked ? "add" : "remove", value: ind.code }]),
    });
    const row = h("div", { class: "check" }, box, h("label", { for: id }, ind.label));
    byDim.set(ind.dimension, [...(byDim.get(ind.dimension) ?? []), row]);
  }
  return h(
    "section",
    { class: "card", id: "indicators", "aria-labelledby": "ind-title", "data-live": "" },
    h("h2", { id: "ind-title" }, T.indicators),
    h("p", { class: "note", id: "ind-variant" }, child ? T.indicatorsChild : T.indicatorsAdult),
    [...byDim].map(([dim, rows]) => h("fieldset", { class: "checks", "data-dimension": dim }, h("legend", {}, T.dimensions[dim] ?? dim), rows)),
  );
}

function logCard(ctx: Ctx, r: Record, f: string, heading: string, form: HTMLElement): HTMLElement {
  const entries = r.entries(f);
  return h(
    "section",
    { class: "card", id: "log-" + f, "aria-labelledby": `log-${f}-title` },
    h("h2", { id: `log-${f}-title` }, heading),
    entries.length === 0
      ? h("p", {}, T.none)
      : h(
          "ul",
          { class: "entries" },
          entries.map((e) => h("li", { "data-op": e.op }, h("p", {}, e.redacted ? T.redacted : entryText(f, e.value)), h("p", { class: "meta" }, who(ctx.app, e.user, e.device, e.hlc)))),
        ),
    form,
  );
}

function entryText(f: string, json: string): string {
  const v = JSON.parse(json) as { [k: string]: unknown };
  switch (f) {
    case "consent":
      return `${valueLabel("consent_scope", String(v.scope))}: ${v.given === true ? T.consentGiven : T.consentRefused}${v.date ? ` (${String(v.date)})` : ""}`;
    case "referrals":
      return [valueLabel("service", String(v.service)), v.organisation, v.destination_country, v.date].filter((x) => typeof x === "string" && x !== "").join(" · ");
    default:
      return String(v.text ?? "");
  }
}

function noteForm(ctx: Ctx, r: Record, f: string): HTMLElement {
  const text = h("textarea", { rows: 3 });
  const form = h("form", { class: "inline-form", id: `${f}-form` }, field(`${f}-text-${r.kind}`, T.noteText, text), h("button", { type: "submit", id: `add-${f}` }, T.addNote));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (text.value.trim() === "") {
      return;
    }
    void write(ctx, r, [{ field: f, action: "append", value: { text: text.value.trim() } }]);
  });
  return form;
}

function consentForm(ctx: Ctx, r: Record): HTMLElement {
  const scope = select(Object.keys(T.values.consent_scope ?? {}), (v) => valueLabel("consent_scope", v), "data_processing");
  const given = h("input", { type: "radio", name: "consent-answer", id: "consent-given", value: "yes", checked: true });
  const refused = h("input", { type: "radio", name: "consent-answer", id: "consent-refused", value: "no" });
  const form = h(
    "form",
    { class: "inline-form", id: "consent-form" },
    field("consent-scope", T.consentScope, scope),
    h("fieldset", { class: "checks" }, h("legend", {}, T.consentAnswer), h("div", { class: "check" }, given, h("label", { for: "consent-given" }, T.consentGiven)), h("div", { class: "check" }, refused, h("label", { for: "consent-refused" }, T.consentRefused))),
    h("button", { type: "submit", id: "add-consent" }, T.addConsent),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void write(ctx, r, [{ field: "consent", action: "append", value: { scope: scope.value, given: given.checked, date: today() } }]);
  });
  return form;
}

function referralForm(ctx: Ctx, r: Record): HTMLElement {
  const service = select(Object.keys(T.values.service ?? {}), (v) => valueLabel("service", v), "shelter");
  const org = h("input", { type: "text", autocomplete: "off" });
  const country = h("input", { type: "text", maxlength: 2, autocomplete: "off" });
  const form = h("form", { class: "inline-form", id: "referral-form" }, field("ref-service", T.refService, service), field("ref-org", T.refOrganisation, org), field("ref-country", T.refCountry, country), h("button", { type: "submit", id: "add-referral" }, T.addReferral));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const v: { [k: string]: string | boolean } = { service: service.value, date: today() };
    if (org.value.trim() !== "") {
      v.organisation = org.value.trim();
    }
    if (country.value.trim() !== "") {
      v.destination_country = country.value.trim().toUpperCase();
      v.cross_border = true;
    }
    void write(ctx, r, [{ field: "referrals", action: "append", value: v }]);
  });
  return form;
}

// ---- attachments (photos and files)

/** The attachments log of identifications and site visits. */
const FIELD_ATTACHMENTS = "attachments";

/**
 * MAX_FILE_MB is the server's default per-file limit (25 MB): a larger
 * file is refused before it is stored (the schema does not carry the
 * server's configured limit; a server allowing less refuses at upload and
 * the change shows under "Refused changes").
 */
const MAX_FILE_MB = 25;

/** The types the picker offers (the SDK and the server check the bytes). */
const ACCEPT = "image/jpeg,image/png,image/heic,image/heif,application/pdf,audio/*";

/** The image types opened in the page (the others are downloaded). */
const IMAGE_TYPES = ["image/jpeg", "image/png"];

/** HEIC's ISO base media brands (as model.SniffMedia names them). */
const HEIC_BRANDS = ["heic", "heix", "heim", "heis", "mif1", "msf1"];

/**
 * opened holds the object URLs of the files opened on the screen of hash:
 * images by digest (drawn again after a sync) and downloads. Leaving the
 * screen, locking or logging out revokes them (releaseFiles), so no
 * decrypted file stays reachable from the page.
 */
const opened = { hash: "", images: new Map<string, string>(), downloads: [] as string[] };

/** releaseFiles revokes every object URL of an opened file. */
export function releaseFiles(): void {
  for (const u of [...opened.images.values(), ...opened.downloads]) {
    URL.revokeObjectURL(u);
  }
  opened.images.clear();
  opened.downloads = [];
}

/** AttachmentEntry is an attachments entry's value. */
interface AttachmentEntry {
  digest: string;
  size: number;
  media_type: string;
  name?: string;
  caption?: string;
}

/** fileFields builds the file picker and its caption, labelled, with ids under prefix. */
function fileFields(prefix: string): { el: HTMLElement; input: HTMLInputElement; caption: HTMLInputElement } {
  const input = h("input", { type: "file", accept: ACCEPT, name: "file" });
  const caption = h("input", { type: "text", maxlength: 255, autocomplete: "off", name: "caption" });
  const el = h("div", { class: "file-fields" }, field(`${prefix}-file`, T.attachFile, input, T.attachHint(MAX_FILE_MB)), field(`${prefix}-caption`, T.attachCaption, caption));
  return { el, input, caption };
}

/** isHEIC tells a HEIC photo by its first bytes, else by the browser's type or the name. */
function isHEIC(file: File, head: string): boolean {
  return (head.slice(4, 8) === "ftyp" && HEIC_BRANDS.includes(head.slice(8, 12))) || /^image\/hei[cf]/.test(file.type) || /\.hei[cf]$/i.test(file.name);
}

/** firstBytes reads a file's first 12 bytes as a binary string. */
async function firstBytes(file: File): Promise<string> {
  return String.fromCharCode(...new Uint8Array(await file.slice(0, 12).arrayBuffer()));
}

/**
 * checkFile answers "" for a file the app may attach, or the sentence
 * saying why not: too large, or a type outside the allowed list (sniffed
 * from the first bytes like the SDK does, else the browser's type).
 */
async function checkFile(file: File): Promise<string> {
  if (file.size > MAX_FILE_MB * 1024 * 1024) {
    return T.attachTooLarge(MAX_FILE_MB);
  }
  const text = await firstBytes(file);
  if (isHEIC(file, text)) {
    return "";
  }
  const sniffed = text.startsWith("\xff\xd8\xff") ? "image/jpeg" : text.startsWith("\x89PNG\r\n\x1a\n") ? "image/png" : text.startsWith("%PDF-") ? "application/pdf" : file.type;
  return ATTACHMENT_TYPES.includes(sniffed) ? "" : T.attachType;
}

/**
 * attachError says in the app's words why the SDK refused file: for a
 * HEIC photo, that its location data could not be removed (the SDK strips
 * what it can follow and refuses the rest rather than send it).
 */
async function attachError(e: unknown, file: File): Promise<string> {
  if (e instanceof FieldsyncError && e.code === "media_type") {
    return isHEIC(file, await firstBytes(file)) ? T.attachHeic : T.attachType;
  }
  return e instanceof FieldsyncError ? e.message : String((e as Error).message);
}

/**
 * attachmentsCard lists a record's files (name, size, caption, waiting or
 * uploaded; images shown and other files downloaded on demand) and, for a
 * writer of the attachments log, the form that adds one. A visitor sees
 * it on their week's site visits only (identifications are not readable).
 */
function attachmentsCard(ctx: Ctx, r: Record): Child {
  const a = ctx.app;
  const may = mayWrite(a, r.kind, FIELD_ATTACHMENTS);
  const entries = r.entries(FIELD_ATTACHMENTS);
  if (!may && entries.length === 0) {
    return null;
  }
  return h(
    "section",
    { class: "card attachments", id: "attachments", "aria-labelledby": "attachments-title" },
    h("h2", { id: "attachments-title" }, T.attachments),
    entries.length === 0 ? h("p", {}, T.none) : h("ul", { class: "entries", id: "attachment-list" }, entries.map((e) => attachmentItem(ctx, r, e))),
    may && attachForm(ctx, r),
  );
}

function attachmentItem(ctx: Ctx, r: Record, e: Entry): HTMLElement {
  if (e.redacted) {
    return h("li", { class: "attachment", "data-op": e.op }, h("p", {}, T.redacted));
  }
  const v = JSON.parse(e.value) as AttachmentEntry;
  const name = v.name ?? T.fileUnnamed;
  const refused = ctx.app.rejected.some((q) => q.op.id === e.op);
  const waiting = !refused && ctx.app.unsentOps.has(e.op);
  const state = refused ? "refused" : waiting ? "waiting" : "uploaded";
  const image = IMAGE_TYPES.includes(v.media_type);
  const view = h("div", { class: "attachment-view" });
  const shown = opened.images.get(v.digest);
  if (shown !== undefined) {
    view.append(picture(shown, v));
  }
  const button = h("button", { type: "button", class: "secondary", "data-action": image ? "show" : "download" }, image ? T.fileShow(name) : T.fileDownload(name));
  button.addEventListener("click", () => void openFile(ctx, r, v, button, view));
  return h(
    "li",
    { class: "attachment", "data-op": e.op, "data-digest": v.digest, "data-state": state },
    h(
      "p",
      {},
      h("strong", { class: "file-name" }, name),
      " · ",
      T.fileSize(v.size),
      " · ",
      refused ? h("a", { class: "badge bad", href: "#/status" }, T.fileRefused) : h("span", { class: "badge" + (waiting ? " warn" : "") }, waiting ? T.fileWaiting : T.fileUploaded),
    ),
    v.caption !== undefined && h("p", { class: "caption" }, v.caption),
    h("p", { class: "meta" }, who(ctx.app, e.user, e.device, e.hlc)),
    shown === undefined && button,
    view,
  );
}

function picture(url: string, v: AttachmentEntry): HTMLImageElement {
  return h("img", { class: "attachment-image", src: url, alt: v.caption ?? v.name ?? T.fileUnnamed });
}

/** openFile reads the file (from the device, or downloads it) and shows an image or saves another file. */
async function openFile(ctx: Ctx, r: Record, v: AttachmentEntry, button: HTMLButtonElement, view: HTMLElement): Promise<void> {
  const hash = location.hash;
  button.disabled = true;
  let blob: Blob;
  try {
    blob = await ctx.app.fetchFile(r.id, v.digest);
  } catch (e) {
    button.disabled = false;
    ctx.say(e instanceof TransportError || !navigator.onLine ? T.fileOffline : e instanceof FieldsyncError && e.code === "not_found" ? T.fileGone : T.fileFailed, "error");
    return;
  }
  if (location.hash !== hash || ctx.app.state !== "unlocked") {
    return; // the person left (or the app locked) meanwhile
  }
  const url = URL.createObjectURL(blob);
  if (IMAGE_TYPES.includes(v.media_type)) {
    opened.images.get(v.digest) ?? opened.images.set(v.digest, url);
    button.remove();
    replace(view, picture(opened.images.get(v.digest)!, v));
    return;
  }
  opened.downloads.push(url);
  button.disabled = false;
  h("a", { href: url, download: v.name ?? T.fileUnnamed }).click();
}

function attachForm(ctx: Ctx, r: Record): HTMLElement {
  const f = fileFields("attach");
  const form = h("form", { class: "inline-form", id: "attach-form" }, f.el, h("button", { type: "submit", id: "add-attachment" }, T.attachButton));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void (async () => {
      const file = f.input.files?.[0];
      if (file === undefined) {
        ctx.say(T.attachChoose, "error");
        return;
      }
      const problem = await checkFile(file);
      if (problem !== "") {
        ctx.say(problem, "error");
        return;
      }
      try {
        ctx.clean();
        await ctx.app.attach(r.id, file, f.caption.value.trim());
        ctx.say(T.attached);
      } catch (err) {
        ctx.say(await attachError(err, file), "error");
      }
    })();
  });
  return form;
}

// ---- site visits

function visits(ctx: Ctx, el: HTMLElement): void {
  const a = ctx.app;
  const visitor = a.user?.role === "visitor";
  const weeks = [...a.records.values()].filter((r) => r.kind === "action_week" && !r.deleted);
  const all = [...a.records.values()].filter((r) => r.kind === "site_visit" && !r.deleted);
  const pendingIdents = visitor ? identifications(a).length : 0;
  replace(
    el,
    title(T.visitsTitle),
    visitor && a.visitorSent > 0 && h("p", { class: "note ok", id: "visitor-sent" }, T.visitorSent(a.visitorSent)),
    visitor && pendingIdents > 0 && h("p", { class: "note warn", id: "visitor-pending" }, T.visitorPending(pendingIdents)),
    weeks.length === 0 && h("p", {}, T.noWeek),
    weeks.map((w) => {
      const mine = all.filter((v) => v.value("action_week") === w.id).sort((x, y) => str(y, "visited_on").localeCompare(str(x, "visited_on")));
      return h(
        "section",
        { class: "card", "data-week": w.id },
        h("h2", {}, T.visitsWeek(str(w, "name"), str(w, "starts_on"), str(w, "ends_on"))),
        mine.length === 0
          ? h("p", {}, T.visitsEmpty)
          : h(
              "ul",
              { class: "items" },
              mine.map((v) =>
                h(
                  "li",
                  {},
                  h(
                    "a",
                    { class: "item", href: "#/visit/" + v.id, "data-record": v.id },
                    h("span", { class: "code" }, `${str(v, "town")} · ${str(v, "visited_on")}`),
                    h("span", { class: "meta" }, str(v, "summary")),
                    a.unsentRecords.has(v.id) && h("span", { class: "badges" }, h("span", { class: "badge" }, T.badgeUnsent)),
                  ),
                ),
              ),
            ),
        newVisitForm(ctx, w),
      );
    }),
  );
}

function newVisitForm(ctx: Ctx, week: Record): HTMLElement {
  const towns = week.elements("towns");
  const town = towns.length > 0 ? select(towns, (t) => t, towns[0]!) : h("input", { type: "text" });
  const date = h("input", { type: "date", value: today() });
  const summary = h("textarea", { rows: 2 });
  const form = h(
    "form",
    { class: "inline-form", id: "visit-form" },
    h("h3", {}, T.newVisit),
    field("visit-town", T.town, town),
    field("visit-date", T.visitedOn, date),
    field("visit-summary", T.summary, summary),
    h("button", { type: "submit", id: "save-visit" }, T.saveVisit),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const id = crypto.randomUUID();
    const edits: Edit[] = [
      { field: "action_week", action: "set", value: week.id },
      { field: "town", action: "set", value: town.value },
      { field: "visited_on", action: "set", value: date.value },
    ];
    if (summary.value.trim() !== "") {
      edits.push({ field: "summary", action: "set", value: summary.value.trim() });
    }
    void (async () => {
      try {
        ctx.clean();
        await ctx.app.write(id, "site_visit", edits);
        ctx.go("#/visit/" + id, T.saved);
      } catch (err) {
        fail(ctx, err);
      }
    })();
  });
  return form;
}

function visitView(ctx: Ctx, el: HTMLElement, id: string): void {
  const r = ctx.app.records.get(id);
  if (r === undefined || r.kind !== "site_visit") {
    replace(el, title(T.recordNotFound), h("p", {}, h("a", { href: "#/visits" }, T.back)));
    return;
  }
  replace(
    el,
    h("p", {}, h("a", { href: "#/visits", class: "back" }, T.navVisits)),
    title(`${str(r, "town")} · ${str(r, "visited_on")}`),
    str(r, "summary") !== "" && h("p", { class: "card" }, str(r, "summary")),
    logCard(ctx, r, "notes", T.visitNotes, noteForm(ctx, r, "notes")),
    attachmentsCard(ctx, r),
  );
}

// ---- sync and device

function statusView(ctx: Ctx, el: HTMLElement): void {
  const a = ctx.app;
  const u = a.user!;
  replace(
    el,
    title(T.statusTitle),
    h(
      "section",
      { class: "card" },
      h("h2", {}, T.device),
      h("p", {}, T.user(u.username, T.roles[u.role] ?? u.role)),
      h("p", { class: "meta", id: "device-id" }, a.replica.device),
      h("p", { id: "persist-line" }, a.status.persisted === true ? T.storagePersisted : T.storageNotPersisted),
    ),
    pinCard(a, ctx.say),
    h(
      "section",
      { class: "card", id: "rejected", "aria-labelledby": "rejected-title" },
      h("h2", { id: "rejected-title" }, T.rejectedTitle),
      a.rejected.length === 0
        ? h("p", {}, T.rejectedNone)
        : h(
            "ul",
            { class: "entries" },
            a.rejected.map((q) => {
              const rec = a.records.get(q.op.record);
              const name = rec === undefined ? q.op.record.slice(0, 8) : str(rec, "code") || str(rec, "town") || q.op.record.slice(0, 8);
              return h(
                "li",
                { "data-op": q.op.id },
                h("p", {}, h("strong", {}, T.rejectedWhat(fieldLabel(q.op.field), name)), ": ", q.message),
                h("p", {}, T.rejectionHelp[q.code] ?? T.rejectedHelp),
                h("button", { type: "button", class: "secondary", "data-action": "dismiss", onclick: () => void ctx.app.dismiss(q.op.id) }, T.dismiss),
              );
            }),
          ),
    ),
  );
}

// ---- a team lead's members' devices (online only)

interface DeviceRow {
  id: string;
  name: string;
  username: string;
  state: string;
  last_seen: string;
}

function devicesView(ctx: Ctx, el: HTMLElement): void {
  const a = ctx.app;
  const body = h("div", { id: "devices" }, h("p", {}, navigator.onLine ? "…" : T.devicesOffline));
  replace(el, title(T.devicesTitle), h("p", { class: "note" }, T.devicesIntro), body);
  if (!navigator.onLine || a.user?.role !== "team_lead") {
    return;
  }
  void a
    .call("GET", "/v1/admin/devices")
    .then((res) => {
      const list = ((res as { devices?: DeviceRow[] }).devices ?? []).filter((d) => d.username !== a.user?.username);
      replace(
        body,
        list.length === 0
          ? h("p", {}, T.devicesEmpty)
          : h(
              "ul",
              { class: "items" },
              list.map((d) => {
                const button = h("button", { type: "button", class: "danger", "data-action": "revoke", "data-device": d.id }, T.revoke);
                button.addEventListener("click", () => {
                  if (button.dataset.armed !== "1") {
                    button.dataset.armed = "1";
                    replace(button, T.revokeConfirm);
                    return;
                  }
                  button.disabled = true;
                  void a
                    .call("POST", `/v1/devices/${encodeURIComponent(d.id)}/revoke`)
                    .then(() => {
                      ctx.say(T.revokedDone(d.name || d.id.slice(0, 8)));
                      devicesView(ctx, el);
                    })
                    .catch((e: Error) => ctx.say(e.message, "error"));
                });
                return h(
                  "li",
                  { class: "item", "data-device": d.id },
                  h("span", { class: "code" }, d.name || d.id.slice(0, 8)),
                  h("span", { class: "meta" }, T.deviceSeen(d.username, d.last_seen ? formatTime(Date.parse(d.last_seen)) : "—")),
                  d.state === "revoked" ? h("span", { class: "badge" }, T.deviceRevoked) : button,
                );
              }),
            ),
      );
    })
    .catch((e: Error) => replace(body, h("p", { class: "message error", role: "alert" }, e.message)));
}
