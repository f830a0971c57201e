// The comparison report: builds the page from window.DIFFMIX_REPORT (data.js, the content of results.json plus the
// sample tiles) with Chart.js for the charts. Plain browser JavaScript, no modules: the page opens from disk.
(function () {
  'use strict';

  const data = window.DIFFMIX_REPORT;
  const root = document.getElementById('report');
  const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f',
                   '#bcbd22', '#17becf', '#393b79', '#637939'];
  const charts = [];

  // --- small helpers -------------------------------------------------------------------------------------------

  function element(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (key === 'text') node.textContent = value;
      else if (key === 'className') node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function percent(fraction, decimals) {
    if (fraction === null || fraction === undefined) return '—';
    return (fraction * 100).toFixed(decimals === undefined ? 2 : decimals);
  }

  function meanStd(setup) {
    return setup.mean === null ? 'failed' : percent(setup.mean) + ' ± ' + percent(setup.std);
  }

  function variantTitle(variant) {
    return variant.name ? 'Variant ' + variant.name : 'Results';
  }

  function variantId(variant, part) {
    return 'v-' + (variant.name || 'all') + '-' + part;
  }

  function table(header, rows, options) {
    const head = element('tr', {}, header.map((cell) => element('th', { text: cell })));
    const body = rows.map((row) => {
      const cells = row.cells.map((cell) => {
        if (cell instanceof Node) return element('td', {}, [cell]);
        return element('td', typeof cell === 'object' && cell !== null ? cell : { text: String(cell) });
      });
      return element('tr', row.className ? { className: row.className } : {}, cells);
    });
    return element('table', (options && options.className) ? { className: options.className } : {},
                   [head].concat(body));
  }

  // White behind every chart, so that an exported PNG pastes cleanly onto a slide.
  const whiteBackground = {
    id: 'whiteBackground',
    beforeDraw(chart) {
      const context = chart.ctx;
      context.save();
      context.fillStyle = '#ffffff';
      context.fillRect(0, 0, chart.width, chart.height);
      context.restore();
    },
  };

  function addChart(parent, id, config, exportName) {
    const canvas = element('canvas', { id: id, role: 'img', 'aria-label': exportName });
    parent.append(element('div', { className: 'chart' }, [canvas]));
    config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false },
                                   config.options || {});
    config.plugins = (config.plugins || []).concat([whiteBackground]);
    const chart = new Chart(canvas.getContext('2d'), config);
    charts.push(chart);
    const link = element('a', { href: '#', download: exportName + '.png', text: 'Download PNG' });
    link.addEventListener('click', () => { link.href = chart.toBase64Image('image/png', 1); });
    parent.append(element('div', { className: 'chart-tools' }, [link]));
    return chart;
  }

  // --- the summary table ----------------------------------------------------------------------------------------

  function summaryTable(variant) {
    const setups = variant.setups;
    const best = Math.max.apply(null, setups.map((s) => s.eval_every || 1));
    const hasShotGroups = setups.some((s) => s.shot_groups);
    const hasTestGroups = setups.some((s) => s.test_groups);
    const header = ['set-up', 'top-1 % (mean ± std)', 'Δ vs ' + setups[0].name + ' [95 % CI]', 'runs'];
    if (best > 1) header.push('best epoch % (evaluated every ' + best + ')');
    if (hasTestGroups) header.push('worst group %');
    if (hasShotGroups) header.push('Many / Medium / Few %');
    const rows = setups.map((s) => {
      const cells = [s.name, meanStd(s), s.delta_text,
                     s.errors.length ? s.runs + ' of ' + s.planned : String(s.runs)];
      if (best > 1) cells.push(s.mean === null ? '—' : percent(s.best_mean) + ' ± ' + percent(s.best_std));
      if (hasTestGroups) cells.push(percent(s.worst_group));
      if (hasShotGroups) {
        cells.push(s.shot_groups ? [s.shot_groups.many, s.shot_groups.medium, s.shot_groups.few]
          .map((v) => percent(v)).join(' / ') : '—');
      }
      return { cells: cells, className: s.mean === null ? 'failed' : '' };
    });
    return table(header, rows);
  }

  function failures(variant) {
    const list = [];
    for (const run of variant.runs) {
      if (run.status !== 'ok') {
        list.push(element('li', {}, [
          element('strong', { text: run.setup + ', seed ' + run.seed + ' ' + run.status + ': ' }),
          element('span', { className: 'error', text: run.error }),
        ]));
      }
    }
    if (!list.length) return null;
    return element('div', { className: 'problems' }, [
      element('p', { text: 'Runs left out of the means (each set-up is shown with the runs that finished):' }),
      element('ul', {}, list),
    ]);
  }

  // --- charts ---------------------------------------------------------------------------------------------------

  // Bars of the mean top-1 with ±std whiskers, and each seed's run as a point (hover for its value).
  function accuracyChart(parent, variant) {
    const setups = variant.setups;
    const names = setups.map((s) => s.name);
    const seedPoints = [];
    for (const run of variant.runs) {
      if (run.status === 'ok') seedPoints.push({ x: run.setup, y: run.top1 * 100, seed: run.seed });
    }
    const whiskers = {
      id: 'whiskers',
      afterDatasetsDraw(chart) {
        const bars = chart.getDatasetMeta(0).data;
        const y = chart.scales.y;
        const context = chart.ctx;
        context.save();
        context.strokeStyle = '#333';
        context.lineWidth = 1.5;
        bars.forEach((bar, i) => {
          const s = setups[i];
          if (s.mean === null || !s.std) return;
          const top = y.getPixelForValue((s.mean + s.std) * 100);
          const bottom = y.getPixelForValue((s.mean - s.std) * 100);
          context.beginPath();
          context.moveTo(bar.x, top); context.lineTo(bar.x, bottom);
          context.moveTo(bar.x - 7, top); context.lineTo(bar.x + 7, top);
          context.moveTo(bar.x - 7, bottom); context.lineTo(bar.x + 7, bottom);
          context.stroke();
        });
        context.restore();
      },
    };
    const values = seedPoints.map((p) => p.y).concat(setups.filter((s) => s.mean !== null)
      .map((s) => (s.mean - s.std) * 100));
    const low = values.length ? Math.max(0, Math.floor(Math.min.apply(null, values) / 5) * 5 - 5) : 0;
    addChart(parent, variantId(variant, 'accuracy-chart'), {
      type: 'bar',
      data: {
        labels: names,
        datasets: [
          { type: 'bar', label: 'mean top-1 %', data: setups.map((s) => (s.mean === null ? null : s.mean * 100)),
            backgroundColor: setups.map((s, i) => palette[i % palette.length] + 'aa'), order: 2 },
          { type: 'line', label: 'one run (seed)', data: seedPoints, showLine: false, pointRadius: 4,
            pointBackgroundColor: '#222', borderColor: '#222', order: 1 },
        ],
      },
      options: {
        scales: { y: { min: low, title: { display: true, text: 'test top-1 %' } } },
        plugins: {
          legend: { labels: { usePointStyle: true } },
          title: { display: true, text: 'Test top-1 per set-up: mean ± std over seeds, and every run' },
          tooltip: {
            callbacks: {
              label(item) {
                if (item.datasetIndex === 1) return 'seed ' + item.raw.seed + ': ' + item.raw.y.toFixed(2) + ' %';
                const s = setups[item.dataIndex];
                return s.mean === null ? 'failed' : 'mean ' + meanStd(s) + ' % over ' + s.runs + ' run(s); Δ ' +
                  s.delta_text;
              },
            },
          },
        },
      },
      plugins: [whiskers],
    }, 'accuracy' + (variant.name ? '-' + variant.name : ''));
  }

  // The mean test top-1 per evaluated epoch, one line per set-up; hovering shows every seed's value.
  function curvesChart(parent, variant) {
    const perSeed = {};
    for (const run of variant.runs) {
      if (run.status !== 'ok') continue;
      for (const epoch of run.history) {
        if (epoch.top1 === null) continue;
        const key = run.setup + '@' + epoch.epoch;
        (perSeed[key] = perSeed[key] || []).push('seed ' + run.seed + ': ' + (epoch.top1 * 100).toFixed(2));
      }
    }
    const datasets = variant.setups.filter((s) => s.curve.epochs.length).map((s, i) => ({
      label: s.name,
      data: s.curve.epochs.map((epoch, k) => ({ x: epoch, y: s.curve.mean[k] * 100 })),
      borderColor: palette[i % palette.length],
      backgroundColor: palette[i % palette.length],
      pointRadius: 2,
      tension: 0,
    }));
    if (!datasets.length) return;
    addChart(parent, variantId(variant, 'curves-chart'), {
      type: 'line',
      data: { datasets: datasets },
      options: {
        interaction: { mode: 'nearest', intersect: false },
        scales: {
          x: { type: 'linear', title: { display: true, text: 'epoch' }, ticks: { precision: 0 } },
          y: { title: { display: true, text: 'test top-1 % (mean over seeds)' } },
        },
        plugins: {
          title: { display: true, text: 'Learning curves' },
          tooltip: {
            callbacks: {
              afterLabel(item) {
                return (perSeed[item.dataset.label + '@' + item.raw.x] || []).join('\n');
              },
            },
          },
        },
      },
    }, 'curves' + (variant.name ? '-' + variant.name : ''));
  }

  // Many / Medium / Few accuracy of long-tail runs.
  function shotGroupsChart(parent, variant) {
    const setups = variant.setups.filter((s) => s.shot_groups);
    if (!setups.length) return;
    parent.append(element('h3', { text: 'Many / Medium / Few' }));
    const groups = [['many', 'Many'], ['medium', 'Medium'], ['few', 'Few']];
    addChart(parent, variantId(variant, 'groups-chart'), {
      type: 'bar',
      data: {
        labels: setups.map((s) => s.name),
        datasets: groups.map(([key, label], i) => ({
          label: label,
          data: setups.map((s) => (s.shot_groups[key] === null ? null : s.shot_groups[key] * 100)),
          backgroundColor: palette[i],
        })),
      },
      options: {
        scales: { y: { title: { display: true, text: 'mean per-class top-1 %' } } },
        plugins: { title: { display: true, text: 'Accuracy of the classes with many, medium and few images' } },
      },
    }, 'shot-groups' + (variant.name ? '-' + variant.name : ''));
  }

  // Test-set groups (Waterbirds: bird × place) and the worst group.
  function testGroupsTable(parent, variant) {
    const setups = variant.setups.filter((s) => s.test_groups);
    if (!setups.length) return;
    parent.append(element('h3', { text: 'Test groups' }));
    const names = setups[0].test_groups.map((g) => g.name + ' (' + g.images + ')');
    const rows = setups.map((s) => ({
      cells: [s.name].concat(s.test_groups.map((g) => percent(g.accuracy))).concat([percent(s.worst_group)]),
    }));
    parent.append(table(['set-up'].concat(names).concat(['worst group']), rows));
  }

  // --- per-class heat map ---------------------------------------------------------------------------------------

  function heatColor(value, low, high, diverging) {
    if (value === null || value === undefined) return '#f4f4f4';
    if (diverging) {
      const extent = Math.max(Math.abs(low), Math.abs(high), 1e-9);
      const t = Math.max(-1, Math.min(1, value / extent));
      return t >= 0 ? 'hsl(130, 55%, ' + (96 - 36 * t) + '%)' : 'hsl(5, 70%, ' + (96 + 36 * t) + '%)';
    }
    const t = high > low ? (value - low) / (high - low) : 1;
    return 'hsl(' + (10 + 110 * t) + ', 65%, ' + (88 - 20 * t) + '%)';
  }

  function heatMap(parent, variant) {
    const classes = variant.data.classes || [];
    const setups = variant.setups.filter((s) => s.per_class.length);
    if (!classes.length || !setups.length) return;
    parent.append(element('h3', { text: 'Per-class top-1 % (mean over seeds)' }));
    const holder = element('div');
    const baseline = variant.setups[0];
    let showDifference = false;
    const buttons = element('div', { className: 'toggle' });
    const accuracyButton = element('button', { type: 'button', text: 'accuracy' });
    const differenceButton = element('button', { type: 'button', text: 'difference to ' + baseline.name });
    buttons.append(accuracyButton, differenceButton);
    parent.append(buttons, holder);

    function seedValues(setup, k) {
      return variant.runs.filter((r) => r.setup === setup.name && r.status === 'ok')
        .map((r) => 'seed ' + r.seed + ': ' + percent(r.per_class[k], 1)).join('\n');
    }

    function render() {
      const value = (s, k) => {
        const v = s.per_class[k];
        if (!showDifference) return v;
        const b = baseline.per_class[k];
        return v === null || b === null || b === undefined ? null : v - b;
      };
      let low = Infinity;
      let high = -Infinity;
      for (const s of setups) {
        classes.forEach((_, k) => {
          const v = value(s, k);
          if (v !== null) { low = Math.min(low, v); high = Math.max(high, v); }
        });
      }
      const rows = classes.map((name, k) => ({
        cells: [name].concat(setups.map((s) => {
          const v = value(s, k);
          const text = v === null ? '—' : (showDifference && v > 0 ? '+' : '') + percent(v, 1);
          return { text: text, style: 'background:' + heatColor(v, low, high, showDifference),
                   title: s.name + ', ' + name + '\n' + seedValues(s, k) };
        })),
      }));
      holder.replaceChildren(table(['class'].concat(setups.map((s) => s.name)), rows, { className: 'heatmap' }));
    }
    accuracyButton.addEventListener('click', () => { showDifference = false; render(); });
    differenceButton.addEventListener('click', () => { showDifference = true; render(); });
    render();
  }

  // --- runs and samples -----------------------------------------------------------------------------------------

  function runsTable(variant) {
    const rows = variant.runs.map((run) => {
      const ok = run.status === 'ok';
      return {
        className: ok ? '' : 'failed',
        cells: [run.setup, String(run.seed), { text: run.status, className: 'status-' + run.status },
                ok ? percent(run.top1) : '—', ok ? percent(run.mean_per_class) : '—',
                ok && run.best ? percent(run.best.top1) + ' (epoch ' + run.best.epoch + ')' : '—',
                { text: run.output_dir, className: 'text' },
                { text: ok ? '' : run.error, className: 'error' }],
      };
    });
    return table(['set-up', 'seed', 'status', 'top-1 %', 'mean per-class %', 'best evaluated %', 'folder',
                  'error'], rows);
  }

  function labelText(label) {
    return label.slice().sort((a, b) => b.weight - a.weight)
      .map((entry) => entry.weight.toFixed(2) + ' ' + entry['class']).join(' + ');
  }

  function samples(parent, variant) {
    const generative = variant.setups.filter((s) => s.samples);
    if (!generative.length) return;
    parent.append(element('h3', { text: 'Synthetic samples' }));
    parent.append(element('p', { className: 'note',
      text: 'The first samples of each target class in each set-up\'s cache (of its first seed). Each tile: ' +
            'source class → target class, the translation strength s, and the soft label y it trains with.' }));
    for (const setup of generative) {
      const s = setup.samples;
      parent.append(element('h4', { text: setup.name + (s.samples !== undefined ? ' — ' + s.samples +
        ' samples in ' + s.cache : '') }));
      if (s.error) {
        parent.append(element('p', { className: 'error', text: 'No samples shown: ' + s.error }));
        continue;
      }
      const tiles = s.tiles.map((tile) => element('figure', { className: 'tile' }, [
        element('img', { src: tile.file, alt: tile.source + ' to ' + tile.target, loading: 'eager' }),
        element('figcaption', {}, [
          element('div', { text: tile.source + ' → ' + tile.target }),
          element('div', { text: 's = ' + tile.strength }),
          element('div', { text: 'y = ' + labelText(tile.label) }),
        ]),
      ]));
      parent.append(element('div', { className: 'tiles' }, tiles));
    }
  }

  function dataFacts(variant) {
    const d = variant.data;
    const facts = [['dataset', d.kind + (d.root ? ' (' + d.root + ')' : '')],
                   ['training images', d.train_size === undefined ? '—' : String(d.train_size)],
                   ['test images', d.test_size === undefined ? '—' : String(d.test_size)],
                   ['shots per class', d.shots ? String(d.shots) : 'all'],
                   ['imbalance factor', String(d.imbalance)],
                   ['image size', d.image_size ? String(d.image_size) + (d.resize ? ' (resized to ' + d.resize +
                     ' first)' : '') : 'as stored'],
                   ['seeds', variant.seeds.join(', ')],
                   ['classes', (d.classes || []).length + ': ' + (d.classes || []).join(', ')]];
    if (d.test_kind !== d.kind || d.test_root !== d.root) facts.splice(1, 0, ['test set', d.test_kind + ' (' +
      d.test_root + ')']);
    const list = element('dl', { className: 'facts' });
    for (const [name, value] of facts) list.append(element('dt', { text: name }), element('dd', { text: value }));
    return list;
  }

  function setupFacts(variant) {
    const rows = variant.setups.map((s) => ({
      cells: [s.name, { text: s.augment.length ? s.augment.join('\n') : '—', className: 'text' },
              { text: s.synthetic_cache ? s.synthetic_cache + (s.sample_source ? ' (made by ' + s.sample_source +
                ' while training)' : '') : '—', className: 'text' }],
    }));
    return table(['set-up', 'batch augmenters', 'synthetic data'], rows);
  }

  // --- sections -------------------------------------------------------------------------------------------------

  function variantSection(variant) {
    const section = element('section', { id: variantId(variant, 'section') });
    section.append(element('h2', { text: variantTitle(variant) }));
    section.append(summaryTable(variant));
    if (variant.note) section.append(element('p', { className: 'note', text: variant.note }));
    const failed = failures(variant);
    if (failed) section.append(failed);
    accuracyChart(section, variant);
    curvesChart(section, variant);
    shotGroupsChart(section, variant);
    testGroupsTable(section, variant);
    heatMap(section, variant);
    samples(section, variant);
    section.append(element('h3', { text: 'Runs' }), runsTable(variant));
    section.append(element('h3', { text: 'Data' }), dataFacts(variant));
    section.append(element('h3', { text: 'Set-ups' }), setupFacts(variant));
    return section;
  }

  function matrixSection(variants) {
    const section = element('section', { id: 'matrix' });
    section.append(element('h2', { text: 'The matrix: top-1 % (mean ± std) per variant' }));
    const header = ['set-up'].concat(variants.map((v) => v.name));
    const rows = variants[0].setups.map((s, i) => ({
      cells: [s.name].concat(variants.map((v) => {
        const setup = v.setups[i];
        return { text: meanStd(setup) + (i > 0 && setup.mean !== null ? '  (Δ ' + setup.delta_text + ')' : ''),
                 className: setup.mean === null ? 'status-failed' : '' };
      })),
    }));
    section.append(table(header, rows));
    const names = variants[0].setups.map((s) => s.name);
    addChart(section, 'matrix-chart', {
      type: 'bar',
      data: {
        labels: variants.map((v) => v.name),
        datasets: names.map((name, i) => ({
          label: name,
          data: variants.map((v) => (v.setups[i].mean === null ? null : v.setups[i].mean * 100)),
          backgroundColor: palette[i % palette.length],
        })),
      },
      options: {
        scales: { y: { title: { display: true, text: 'test top-1 % (mean over seeds)' } } },
        plugins: { title: { display: true, text: 'Every set-up in every variant' } },
      },
    }, 'matrix');
    return section;
  }

  function softwareSection() {
    const software = data.software;
    const section = element('section', { id: 'software' });
    section.append(element('h2', { text: 'Software' }));
    const list = element('dl', { className: 'facts' });
    for (const [name, value] of [['diffmix', software.diffmix], ['LibTorch', software.libtorch],
                                 ['plugin ABI', software.plugin_abi]]) {
      list.append(element('dt', { text: name }), element('dd', { text: value }));
    }
    section.append(list);
    section.append(table(['plugin', 'version', 'ABI', 'augmenters', 'file'], software.plugins.map((p) => ({
      cells: [p.name, p.version, p.abi, { text: p.augmenters.join(', '), className: 'text' },
              { text: p.path, className: 'text' }],
    }))));
    section.append(element('p', { className: 'note', text: 'Charts drawn with Chart.js (MIT licence, ' +
      'LICENSE.chart.js.txt in this folder).' }));
    return section;
  }

  function configSection() {
    const comparison = data.comparison;
    const section = element('section', { id: 'config' });
    section.append(element('h2', { text: 'Config' }));
    section.append(element('p', { text: comparison.config_path + ', run in ' + comparison.working_dir }));
    section.append(element('pre', { className: 'config', text: comparison.config_text }));
    return section;
  }

  function showProblems() {
    const problems = window.DIFFMIX_PROBLEMS || [];
    document.documentElement.setAttribute('data-problems', String(problems.length));
    if (!problems.length) return;
    const box = element('div', { className: 'problems', id: 'problems' }, [
      element('strong', { text: 'This page had problems while loading:' }),
      element('ul', {}, problems.map((p) => element('li', { text: p }))),
    ]);
    root.prepend(box);
  }

  function render() {
    const variants = data.variants;
    const nav = element('nav');
    if (variants.length > 1) nav.append(element('a', { href: '#matrix', text: 'Matrix' }));
    for (const variant of variants) {
      nav.append(element('a', { href: '#' + variantId(variant, 'section'), text: variantTitle(variant) }));
    }
    nav.append(element('a', { href: '#software', text: 'Software' }), element('a', { href: '#config', text: 'Config' }));
    const runs = variants.reduce((n, v) => n + v.runs.length, 0);
    const finished = variants.reduce((n, v) => n + v.runs.filter((r) => r.status === 'ok').length, 0);
    root.append(element('h1', { text: 'Augmenter comparison' }),
                element('p', { className: 'subtitle', text: data.comparison.config_path + ' — ' + finished + ' of ' +
                  runs + ' runs finished — started ' + data.comparison.started }), nav);
    if (variants.length > 1) root.append(matrixSection(variants));
    for (const variant of variants) root.append(variantSection(variant));
    root.append(softwareSection(), configSection());
    document.documentElement.setAttribute('data-charts', String(charts.length));
    document.documentElement.setAttribute('data-state', 'rendered');
  }

  try {
    render();
  } catch (error) {
    window.DIFFMIX_PROBLEMS.push('the report could not be drawn: ' + (error && error.stack ? error.stack : error));
  }
  window.addEventListener('load', showProblems);
})();
