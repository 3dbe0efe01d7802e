import type { BinaryFigures, ConfusionMatrix, Proportion } from './report-metrics';
import type { FlagFigures, ScopeFigures, SiteReport } from './report';

// index.html of a site validation report: one self-contained page (inline CSS, no script, no CDN) with
// relative links to the PNG plots, key images and findings. Every figure carries data-figure="<path in
// report.json>", so a test (or a person) can check the page against the JSON.

export const esc = (s: unknown): string =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/** A number as the page shows it: 3 decimals, or "n/a". */
export const fmt = (v: number | null | undefined): string =>
  v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(3);

/** A proportion as the page shows it: "0.875 (0.529–0.978) 7/8". */
export const fmtProportion = (p: Proportion): string =>
  p.value === null ? `n/a (0/0)` : `${fmt(p.value)} (${fmt(p.low)}\u2013${fmt(p.high)}) ${p.k}/${p.n}`;

const fig = (path: string, text: string, tag = 'td'): string =>
  `<${tag} data-figure="${esc(path)}">${esc(text)}</${tag}>`;

/** A proportion in a table cell: the value, then its interval and counts in small type below. */
const proportionCell = (path: string, p: Proportion): string =>
  p.value === null
    ? `<td data-figure="${esc(path)}">n/a <span class="ci">(0/0)</span></td>`
    : `<td data-figure="${esc(path)}"><b>${fmt(p.value)}</b> <span class="ci">(${fmt(p.low)}\u2013${fmt(
        p.high,
      )}) ${p.k}/${p.n}</span></td>`;

const CSS = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:1.5em;color:#1a1a1a}
h1{font-size:1.6em;margin:.2em 0}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}h3{margin:1.2em 0 .4em}
.statement{background:#fff4d6;border:2px solid #e0a800;padding:.8em 1em;border-radius:6px;font-size:1.05em}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right;vertical-align:top}
th{background:#f3f3f3}td.l,th.l{text-align:left}.meta td,.meta th{text-align:left}
.confusion td.diag{background:#dff0d8;font-weight:600}.confusion td.zero{color:#bbb}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots img{width:360px;height:auto;border:1px solid #ddd}
.ci{display:block;font-size:.8em;color:#555;white-space:nowrap}.wrong{color:#b00000}.indeterminate{color:#8a6d00}img.thumb{width:96px;height:auto;border:1px solid #ccc}
nav a{margin-right:1em}.meta ul{margin:0;padding-left:1.2em}.cases td,td.nw{white-space:nowrap}.cases td.reason{white-space:normal;min-width:18em}dt{font-weight:600;margin-top:.6em}.warn{color:#8a3b00}.small{font-size:.9em;color:#555}
`;

function proportionCells(path: string, p: Proportion): string {
  return proportionCell(path, p);
}

function confusionTable(path: string, c: ConfusionMatrix, rowTitle: string, colTitle: string): string {
  const head = `<tr><th class="l">${esc(rowTitle)} \u2193 / ${esc(colTitle)} \u2192</th>${c.columns
    .map((x) => `<th>${esc(x)}</th>`)
    .join('')}<th>total</th></tr>`;
  const rows = c.rows
    .map((r, i) => {
      const cells = c.columns
        .map((col, j) => {
          const v = c.matrix[i][j];
          const cls = col === r ? 'diag' : v === 0 ? 'zero' : '';
          return `<td class="${cls}" data-figure="${esc(`${path}.matrix.${i}.${j}`)}">${v}</td>`;
        })
        .join('');
      return `<tr><th class="l">${esc(r)}</th>${cells}<td>${c.matrix[i].reduce((a, b) => a + b, 0)}</td></tr>`;
    })
    .join('\n');
  return `<table class="confusion">${head}\n${rows}</table>`;
}

function binaryTable(path: string, b: BinaryFigures): string {
  return `<table>
<tr><th>TP</th><th>FP</th><th>TN</th><th>FN</th><th>sensitivity</th><th>specificity</th><th>PPV</th><th>NPV</th></tr>
<tr>${fig(`${path}.tp`, String(b.tp))}${fig(`${path}.fp`, String(b.fp))}${fig(`${path}.tn`, String(b.tn))}${fig(
    `${path}.fn`,
    String(b.fn),
  )}${proportionCells(`${path}.sensitivity`, b.sensitivity)}${proportionCells(
    `${path}.specificity`,
    b.specificity,
  )}${proportionCells(`${path}.ppv`, b.ppv)}${proportionCells(`${path}.npv`, b.npv)}</tr>
</table>`;
}

function scopeSection(s: ScopeFigures, i: number): string {
  const p = `scopes.${i}`;
  const reasons = s.indeterminate.reasons.length
    ? `<table><tr><th class="l">reason</th><th>levels</th></tr>${s.indeterminate.reasons
        .map(
          (r, j) =>
            `<tr><td class="l">${esc(r.reason)}</td>${fig(`${p}.indeterminate.reasons.${j}.n`, String(r.n))}</tr>`,
        )
        .join('')}</table>`
    : '<p>No indeterminate level.</p>';
  return `<section id="scope-${esc(s.scope.replace(/\s+/g, '-'))}">
<h2>${esc(s.scope)}: ${s.levels} labelled level(s), ${s.determinate} determinate</h2>
<h3>Confusion matrix</h3>
${confusionTable(`${p}.confusion`, s.confusion, 'truth', 'pipeline')}
<p>Exact diagnosis among determinate levels: <span data-figure="${p}.accuracy">${esc(fmtProportion(s.accuracy))}</span></p>
<h3>Herniation (determinate levels; 95% Wilson intervals)</h3>
${binaryTable(`${p}.herniation`, s.herniation)}
<p>Intention to diagnose (every level; indeterminate counted against): sensitivity <span data-figure="${p}.intentionToDiagnose.sensitivity">${esc(
    fmtProportion(s.intentionToDiagnose.sensitivity),
  )}</span>, specificity <span data-figure="${p}.intentionToDiagnose.specificity">${esc(
    fmtProportion(s.intentionToDiagnose.specificity),
  )}</span></p>
<table>
<tr><th>ROC AUC (95% CI)</th><th>average precision</th><th>Brier score</th><th>ECE</th><th>side accuracy</th><th>type agreement</th></tr>
<tr><td data-figure="${p}.roc.auc">${esc(fmt(s.roc.auc))} (${esc(fmt(s.roc.aucLow))}\u2013${esc(fmt(s.roc.aucHigh))})</td>${fig(
    `${p}.pr.averagePrecision`,
    fmt(s.pr.averagePrecision),
  )}${fig(`${p}.calibration.brier`, fmt(s.calibration.brier))}${fig(`${p}.calibration.ece`, fmt(s.calibration.ece))}${proportionCells(
    `${p}.side`,
    s.side,
  )}${proportionCells(`${p}.type`, s.type)}</tr>
</table>
<div class="plots">
<a href="${esc(s.plots.roc)}"><img src="${esc(s.plots.roc)}" alt="ROC curve, ${esc(s.scope)}"></a>
<a href="${esc(s.plots.pr)}"><img src="${esc(s.plots.pr)}" alt="precision-recall curve, ${esc(s.scope)}"></a>
<a href="${esc(s.plots.calibration)}"><img src="${esc(s.plots.calibration)}" alt="calibration plot, ${esc(s.scope)}"></a>
</div>
<h3>Indeterminate: <span data-figure="${p}.indeterminate.rate">${esc(fmtProportion(s.indeterminate.rate))}</span></h3>
${reasons}
</section>`;
}

function flagRow(name: string, f: FlagFigures | null): string {
  if (!f)
    return `<tr><td class="l">${esc(name)}</td><td colspan="6" class="l">no labelled, graded disc</td></tr>`;
  const p = `grading.${name}`;
  return `<tr><td class="l">${esc(name)}</td>${fig(`${p}.n`, String(f.n))}${fig(`${p}.positives`, String(f.positives))}<td data-figure="${p}.roc.auc">${esc(
    fmt(f.roc.auc),
  )} (${esc(fmt(f.roc.aucLow))}\u2013${esc(fmt(f.roc.aucHigh))})</td>${proportionCells(
    `${p}.atThreshold.sensitivity`,
    f.atThreshold.sensitivity,
  )}${proportionCells(`${p}.atThreshold.specificity`, f.atThreshold.specificity)}</tr>`;
}

function gradingSection(r: SiteReport): string {
  const g = r.grading;
  if (!g) {
    return `<section id="grading"><h2>Sagittal grading</h2><p>labels.csv has no herniation, bulging, narrowing or pfirrmann column: nothing to score.</p></section>`;
  }
  const pf = g.pfirrmann;
  return `<section id="grading"><h2>Sagittal grading (per disc, every labelled level)</h2>
<p>${g.labelled} labelled disc(s) with a grading column, <span data-figure="grading.graded">${g.graded}</span> graded by the sagittal grader (a disc it did not find, or a study that failed, is not graded). Flags at the grader\u2019s own thresholds.</p>
<table><tr><th class="l">flag</th><th>discs</th><th>positive</th><th>AUC (95% CI)</th><th>sensitivity</th><th>specificity</th></tr>
${flagRow('herniation', g.herniation)}${flagRow('bulging', g.bulging)}${flagRow('narrowing', g.narrowing)}</table>
${
  pf
    ? `<h3>Pfirrmann grade (${pf.n} discs)</h3><p>Exact: <span data-figure="grading.pfirrmann.exact">${esc(
        fmtProportion(pf.exact),
      )}</span>; within one grade: <span data-figure="grading.pfirrmann.withinOne">${esc(
        fmtProportion(pf.withinOne),
      )}</span></p>${confusionTable('grading.pfirrmann.confusion', pf.confusion, 'truth', 'grader')}`
    : ''
}
</section>`;
}

function casesSection(r: SiteReport): string {
  if (r.cases.length === 0)
    return `<section id="cases"><h2>Wrong and indeterminate levels</h2><p>None.</p></section>`;
  const rows = r.cases
    .map(
      (c, i) =>
        `<tr class="${c.kind}"><td class="l ${c.kind}">${c.kind}</td><td class="l">${esc(c.study)}</td><td>${esc(
          c.level,
        )}</td><td>${c.line}</td><td class="l">${esc(c.truth)}</td><td class="l" data-figure="cases.${i}.predicted">${esc(
          c.predicted,
        )}</td><td>${esc(fmt(c.pHerniation))}</td><td class="l reason">${esc(c.reason ?? '')}</td><td>${
          c.keyImage
            ? `<a href="${esc(c.keyImage)}"><img class="thumb" loading="lazy" src="${esc(c.keyImage)}" alt="key image, ${esc(
                c.study,
              )} ${esc(c.level)}"></a>`
            : 'none'
        }</td></tr>`,
    )
    .join('\n');
  return `<section id="cases"><h2>Wrong and indeterminate levels (<span data-figure="cases.length">${r.cases.length}</span>)</h2>
<p class="small">CSV line: the row of labels.csv. P(herniation) as defined below. The thumbnail links to the key image of the level (its axial key image, else the mid-sagittal one).</p>
<table class="cases"><tr><th class="l">kind</th><th class="l">study</th><th>level</th><th>CSV line</th><th class="l">truth</th><th class="l">pipeline</th><th>P(herniation)</th><th class="l">reason</th><th>key image</th></tr>
${rows}</table></section>`;
}

function studiesSection(r: SiteReport): string {
  const rows = r.perStudy
    .map(
      (s) =>
        `<tr><td class="l nw">${esc(s.study)}</td><td class="l small">${esc(s.studyInstanceUid)}</td><td>${s.labelledLevels}</td><td class="l">${
          s.findings ? `<a href="${esc(s.findings)}">findings.json</a>` : ''
        } ${s.keyImages.map((k, i) => `<a href="${esc(k)}">key image ${i + 1}</a>`).join(' ')}</td><td class="l ${
          s.error ? 'wrong' : ''
        }">${esc(s.error ?? [...s.warnings].join('; '))}</td></tr>`,
    )
    .join('\n');
  return `<section id="studies"><h2>Studies (${r.perStudy.length})</h2>
<table><tr><th class="l">study</th><th class="l">StudyInstanceUID</th><th>labelled levels</th><th class="l">outputs</th><th class="l">error / warnings</th></tr>
${rows}</table></section>`;
}

/** The summary table: one row per scope. */
function summaryTable(r: SiteReport): string {
  const rows = r.scopes
    .map(
      (s, i) =>
        `<tr><th class="l">${esc(s.scope)}</th>${fig(`scopes.${i}.levels`, String(s.levels))}${fig(
          `scopes.${i}.determinate`,
          String(s.determinate),
        )}${proportionCells(`scopes.${i}.herniation.sensitivity`, s.herniation.sensitivity)}${proportionCells(
          `scopes.${i}.herniation.specificity`,
          s.herniation.specificity,
        )}${proportionCells(`scopes.${i}.herniation.ppv`, s.herniation.ppv)}${proportionCells(
          `scopes.${i}.herniation.npv`,
          s.herniation.npv,
        )}${fig(`scopes.${i}.roc.auc`, fmt(s.roc.auc))}${proportionCells(`scopes.${i}.side`, s.side)}${proportionCells(
          `scopes.${i}.indeterminate.rate`,
          s.indeterminate.rate,
        )}</tr>`,
    )
    .join('\n');
  return `<table><tr><th class="l">scope</th><th>levels</th><th>determinate</th><th>sensitivity</th><th>specificity</th><th>PPV</th><th>NPV</th><th>AUC</th><th>side accuracy</th><th>indeterminate</th></tr>
${rows}</table>`;
}

export function renderReportHtml(r: SiteReport): string {
  const models = Object.entries(r.models)
    .map(([role, m]) => `<li data-model="${esc(role)}">${esc(role)}: ${esc(m.name)} ${esc(m.version)}</li>`)
    .join('');
  const defs = Object.entries(r.definitions)
    .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`)
    .join('\n');
  const title = `Site validation report: ${r.algorithm.name} ${r.algorithm.version}${r.site ? `, ${r.site}` : ''}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body>
<header>
<h1>${esc(title)}</h1>
<p class="statement" id="statement"><strong>A site measurement, not a clearance.</strong> ${esc(r.statement)}</p>
<table class="meta">
${r.site ? `<tr><th>site</th><td>${esc(r.site)}</td></tr>` : ''}
<tr><th>date</th><td id="date">${esc(r.date)}</td></tr>
<tr><th>algorithm</th><td id="algorithm">${esc(r.algorithm.name)} ${esc(r.algorithm.version)}</td></tr>
<tr><th>models</th><td><ul>${models}</ul></td></tr>
<tr><th>studies</th><td><span data-figure="studies.n">${r.studies.n}</span> labelled (<span data-figure="studies.analysed">${r.studies.analysed}</span> analysed, <span data-figure="studies.failed">${r.studies.failed}</span> failed)${
    r.studies.unlabelled.length ? `; ${r.studies.unlabelled.length} folder(s) without labels skipped` : ''
  }</td></tr>
<tr><th>labels</th><td><span data-figure="labels.rows">${r.labels.rows}</span> rows: <span data-figure="labels.scored">${r.labels.scored}</span> at levels the pipeline reports, <span data-figure="labels.outsideScope">${r.labels.outsideScope}</span> outside them</td></tr>
<tr><th>herniation truth</th><td>the diagnosis column (central, left or right)</td></tr>
<tr><th>inputs</th><td class="small">${esc(r.inputs.studiesDir)}<br>${esc(r.inputs.labels)}</td></tr>
<tr><th>figures</th><td><a href="report.json">report.json</a> (every figure of this page)</td></tr>
</table>
${r.warnings.map((w) => `<p class="warn">Warning: ${esc(w)}</p>`).join('\n')}
<nav>${r.scopes.map((s) => `<a href="#scope-${esc(s.scope.replace(/\s+/g, '-'))}">${esc(s.scope)}</a>`).join('')}<a href="#grading">sagittal grading</a><a href="#cases">wrong and indeterminate</a><a href="#studies">studies</a><a href="#definitions">definitions</a></nav>
</header>
<section id="summary"><h2>Summary (herniation; 95% Wilson intervals; indeterminate levels left out)</h2>
${summaryTable(r)}
</section>
${r.scopes.map(scopeSection).join('\n')}
${gradingSection(r)}
${casesSection(r)}
${studiesSection(r)}
<section id="definitions"><h2>Definitions</h2><dl>
${defs}
</dl></section>
<footer><p class="statement">${esc(r.disclaimer)} ${esc(r.statement)}</p></footer>
</body></html>
`;
}
