"""Sphinx configuration of the course's site: myst-nb renders the notebooks that build.py
executed and processed, sphinx-book-theme lays them out. Names and links come from settings.ini."""
import sys
from configparser import ConfigParser
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE = ROOT / '_docs_cache'
sys.path.insert(0, str(HERE))   # pages.py, for the slug function

_ini = ConfigParser(delimiters=['='])
_ini.read(ROOT / 'settings.ini', encoding='utf-8')
cfg = _ini['DEFAULT']

project = html_title = cfg['title']
author, copyright, version = cfg['author'], cfg['copyright'], cfg['version']
release = version
html_baseurl = cfg['doc_host'].rstrip('/') + cfg['doc_baseurl'] + '/'

extensions = ['myst_nb', 'sphinx.ext.githubpages']
root_doc = 'index'
exclude_patterns = ['**.ipynb_checkpoints']

# the notebooks arrive executed; headings get Quarto's anchors, so nbdev's doc links find them
nb_execution_mode = 'off'
nb_merge_streams = True
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence', 'attrs_inline']
myst_heading_anchors = 4
myst_heading_slug_func = 'pages.slug'   # a path, not the function: Sphinx caches its config

# all a page loads comes from the site (build.py fills _docs_cache/static), nothing from a CDN
html_static_path = [str(CACHE / 'static'), str(HERE / 'static')]
html_extra_path = [str(CACHE / 'extra')]
html_css_files = ['bp-docs.css']
mathjax_path = 'mathjax/tex-chtml.js'
nb_ipywidgets_js = {
    'require.js': {},
    'bp-widgets.js': {},
    # a widget module the site does not serve is looked up here, fails, and shows as a console error
    'widgets/embed-amd.js': {'data-jupyter-widgets-cdn': '_static/npm/'},
}

html_theme = 'sphinx_book_theme'
# light or dark as the reader's system is (left unset, the theme logs an error on the console)
html_context = {'default_mode': 'auto'}
html_favicon = str(HERE / 'static' / 'favicon.svg')
html_theme_options = {
    'repository_url': cfg['git_url'],
    'repository_branch': cfg['branch'],
    'path_to_docs': cfg['nbs_path'],
    'use_repository_button': True,
    'use_download_button': True,
    'home_page_in_toc': True,
    'show_navbar_depth': 1,
    'show_toc_level': 2,
}
