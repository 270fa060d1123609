// Widgets on a static page, from the state saved with the executed notebook. Loaded after
// require.js and before the ipywidgets embed manager, on the pages that hold widget state.
(function () {
  'use strict';
  // anywidget's front end from this site (its Python package's AMD build), never from a CDN
  const here = document.currentScript.src;
  // and the embed manager's fonts beside it: it finds them from its module's address, which is
  // the page's own folder unless RequireJS maps the module to where the file is
  window.requirejs.config({paths: {
    'anywidget': new URL('anywidget/index', here).href,
    '@jupyter-widgets/html-manager/dist': new URL('widgets', here).href,
  }});

  // The widgets still typeset their labels through MathJax 2's MathJax.Hub.Queue, and show no
  // label at all when MathJax is there without it. These pages have MathJax 3: every MathJax object
  // a page holds (its configuration first, then MathJax itself) gets a Hub that typesets with it.
  const hub = {
    Queue(job) {
      const mj = window.MathJax;
      const el = Array.isArray(job) ? job[2] : null;
      if (el && mj && mj.typesetPromise) mj.typesetPromise([el]).catch(() => null);
    },
  };
  const withHub = (mj) => {
    if (mj && typeof mj === 'object' && !mj.Hub) {
      // not enumerable: MathJax 3 reads its configuration from the enumerable keys
      Object.defineProperty(mj, 'Hub', {value: hub, enumerable: false, configurable: true});
    }
    return mj;
  };
  let current = withHub(window.MathJax || {});
  Object.defineProperty(window, 'MathJax', {
    configurable: true,
    get: () => current,
    set: (v) => {
      current = withHub(v);
    },
  });
})();
