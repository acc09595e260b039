// The grading page: problem picker, live preview of how an answer was read, verdicts, derivations, class CSVs.
// Everything comes from this server's JSON API; text from answers is always inserted as text, and the only
// markup inserted is what the server printed (MathML from the parsed sympy object, the class analysis page).
"use strict";

const $ = (id) => document.getElementById(id);
const state = {problems: {}, readSeq: 0, gradeSeq: 0, timer: null};

async function api(path, body) {
  const options = body === undefined ? {} :
    body instanceof FormData ? {method: "POST", body} :
    {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const response = await fetch(path, options);
  const doc = await response.json();
  if (!response.ok) throw new Error(doc.error || `HTTP ${response.status}`);
  return doc;
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function problem() { return $("problem").value; }

function showProblem() {
  const p = state.problems[problem()];
  if (!p) return;
  $("title").textContent = `${p.title} [${p.source}]`;
  $("statement").innerHTML = p.statement_html;  // MathML rendered by the server from the author's statement
  const symbols = $("symbols");
  symbols.replaceChildren();
  if (p.symbols.length) {
    symbols.append("Symbols: ");
    p.symbols.forEach((s, i) => {
      if (i) symbols.append(", ");
      const span = el("span", undefined, "symbol");
      span.title = s.latex;
      if (s.mathml) span.innerHTML = s.mathml; else span.textContent = s.latex;
      symbols.append(span, " (", el("code", s.latex), ")");
    });
  } else {
    symbols.textContent = p.exact ? "The answer is a number, compared exactly." : "";
  }
  if (Object.keys(p.dims).length) {
    symbols.append(el("br"), "Checked for " + Object.entries(p.dims).map(([k, v]) => `${k} ∈ {${v.join(", ")}}`).join("; "));
  }
  $("preview").replaceChildren(el("span", "type an answer", "muted"));
  $("words").textContent = "";
  $("result").replaceChildren();
  if ($("answer").value.trim()) schedule();
}

function schedule() {
  clearTimeout(state.timer);
  state.timer = setTimeout(readAnswer, 120);
}

async function readAnswer() {
  const answer = $("answer").value;
  const seq = ++state.readSeq;
  if (!answer.trim()) {
    $("preview").replaceChildren(el("span", "type an answer", "muted"));
    $("words").textContent = "";
    $("result").replaceChildren();
    return;
  }
  try {
    const doc = await api("/api/read", {problem: problem(), answer});
    if (seq !== state.readSeq) return;  // a newer keystroke already asked
    if (doc.ok) {
      $("preview").innerHTML = doc.mathml;  // printed by the server from the parsed object, not from the text
      $("words").textContent = `read as ${doc.words}`;
      gradeAnswer(false);
    } else {
      $("preview").replaceChildren(el("span", doc.message, "error"));
      $("words").textContent = "";
      $("result").replaceChildren();
    }
  } catch (err) {
    if (seq === state.readSeq) $("preview").replaceChildren(el("span", String(err.message), "error"));
  }
}

function symbolLabel(name) {
  // A counterexample row is labelled by the symbol as the page shows it (μ₀, from the server's MathML of the
  // problem's symbols), not by its LaTeX source; a name that is not a listed symbol stays plain text.
  const p = state.problems[problem()];
  const s = p && p.symbols.find((x) => x.latex === name || x.latex.replace(/\\/g, "") === name);
  const th = el("th", undefined);
  th.title = name;
  if (s && s.mathml) th.innerHTML = s.mathml; else th.textContent = name;
  return th;
}

function table(rows) {
  const t = el("table");
  for (const [k, v] of rows) {
    const tr = el("tr");
    tr.append(symbolLabel(k), el("td", typeof v === "string" ? v : JSON.stringify(v)));
    t.append(tr);
  }
  return t;
}

function showResult(doc) {
  const out = $("result");
  out.replaceChildren();
  out.append(el("div", doc.verdict, `verdict ${doc.verdict}`), el("p", doc.message, "message"));
  const stated = doc.stated_feedback || [];  // the feedback the message already says
  const feedback = (doc.feedback || []).filter((f) => !stated.includes(f.id));
  if (feedback.length) {
    const ul = el("ul");
    feedback.forEach((f) => ul.append(el("li", f.message)));
    out.append(el("div", "Feedback", "label"), ul);
  }
  const cx = doc.counterexample;
  if (cx) {
    const rows = Object.entries(cx.instance || {}).map(([k, v]) => [k, v]);
    rows.push(["your answer", cx.student], ["reference", cx.reference], ["seed", cx.seed]);
    out.append(el("div", "Counterexample", "label"), table(rows));
  }
  if (doc.symbolic) out.append(el("p", `sympy: ${doc.symbolic.status} (${doc.symbolic.detail})`, "muted"));
  if (doc.read_as) out.append(el("p", `read as (sympy): ${doc.read_as}`, "muted"));
  const raw = el("details");
  raw.append(el("summary", "the grade --json document"), el("pre", JSON.stringify(doc, null, 2)));
  out.append(raw);
}

async function gradeAnswer(full) {
  const answer = $("answer").value;
  if (!answer.trim()) return;
  const seq = ++state.gradeSeq;
  try {
    const doc = await api("/api/grade", {problem: problem(), answer, full});
    if (seq === state.gradeSeq) showResult(doc);
  } catch (err) {
    if (seq === state.gradeSeq) $("result").replaceChildren(el("p", String(err.message), "error"));
  }
}

async function checkSteps() {
  const out = $("steps-result");
  out.replaceChildren(el("p", "checking…", "muted"));
  try {
    const doc = await api("/api/check-steps", {problem: problem(), derivation: $("derivation").value});
    out.replaceChildren();
    const steps = Object.fromEntries((doc.steps || []).map((s) => [s.line, s]));
    const t = el("table");
    const head = el("tr");
    head.append(el("th", "line"), el("th", "formula"), el("th", "step from the line before"));
    t.append(head);
    for (const line of doc.lines || []) {
      const tr = el("tr");
      tr.dataset.line = line.line;
      if (line.line === doc.first_invalid) tr.className = "wrong";
      const step = steps[line.line];
      const note = !line.parsed ? line.message : step ? `${step.valid ? "✓" : "✗"} ${step.message}` : "";
      tr.append(el("td", String(line.line)), el("td", line.text), el("td", note));
      t.append(tr);
    }
    out.append(t);
    out.append(el("p", doc.first_invalid ? `First wrong line: ${doc.first_invalid}` : "Every step is valid.",
                  doc.first_invalid ? "error" : ""));
    if (doc.final) {
      out.append(el("div", `last line: ${doc.final.verdict}`, `verdict ${doc.final.verdict}`),
                 el("p", doc.final.message, "message"));
    }
  } catch (err) {
    out.replaceChildren(el("p", String(err.message), "error"));
  }
}

async function uploadCsv() {
  const out = $("csv-result");
  const file = $("csvfile").files[0];
  if (!file) { out.replaceChildren(el("p", "choose a CSV file first", "error")); return; }
  out.replaceChildren(el("p", "grading…", "muted"));
  const form = new FormData();
  form.append("problem", problem());
  form.append("file", file);
  try {
    const doc = await api("/api/grade-csv", form);
    const c = doc.counts;
    out.replaceChildren(el("p", `${doc.total} answers: ${c.correct || 0} correct, ${c.incorrect || 0} incorrect, ` +
                                `${c.invalid || 0} invalid (${doc.seconds} s)`, "counts"));
    const link = el("a", "download the graded CSV");
    link.id = "download";
    link.href = URL.createObjectURL(new Blob([doc.csv], {type: "text/csv"}));
    link.download = file.name.replace(/\.csv$/i, "") + "-graded.csv";
    out.append(link);
    const frame = $("analysis");
    frame.srcdoc = doc.analysis_html;  // the class analysis page (no script; sandboxed frame)
    frame.hidden = false;
  } catch (err) {
    out.replaceChildren(el("p", String(err.message), "error"));
  }
}

function selectTab(name) {
  document.querySelectorAll("nav [role=tab]").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.tab === name)));
  document.querySelectorAll("section.tab").forEach((s) => { s.hidden = s.id !== `tab-${name}`; });
}

async function start() {
  document.querySelectorAll("nav [role=tab]").forEach((b) => b.addEventListener("click", () => selectTab(b.dataset.tab)));
  $("answer").addEventListener("input", schedule);
  $("grade").addEventListener("click", () => gradeAnswer(true));
  $("check").addEventListener("click", checkSteps);
  $("upload").addEventListener("click", uploadCsv);
  $("problem").addEventListener("change", showProblem);
  try {
    const doc = await api("/api/problems");
    for (const p of doc.problems) {
      state.problems[p.id] = p;
      const option = el("option", `${p.id} — ${p.title}`);
      option.value = p.id;
      $("problem").append(option);
    }
    if (state.problems["kl-gaussian"]) $("problem").value = "kl-gaussian";
    $("status").textContent = `${doc.problems.length} problems`;
    document.body.dataset.ready = "true";
    showProblem();
  } catch (err) {
    $("status").replaceChildren(el("span", String(err.message), "error"));
  }
}

start();
