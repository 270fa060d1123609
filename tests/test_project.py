"""Checks on the project itself: the README is generated, its commands are the ones CI runs, settings.ini
rules, the public API is deliberate, notebooks are numbered and speak of the project alone."""
import configparser, json, re, subprocess, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
NBS = sorted((root / 'nbs').glob('*.ipynb'))

def cfg(): c = configparser.ConfigParser(delimiters=['=']); c.read(root / 'settings.ini'); return c['DEFAULT']

def cells(nb): return json.loads(nb.read_text())['cells']

def test_readme_is_generated_from_index():
    r = subprocess.run([sys.executable, 'tools/make_readme.py', '--check'], cwd=root,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

def test_readme_has_exactly_the_two_commands_ci_uses():
    blocks = re.findall(r'```sh\n(.*?)```', (root / 'README.md').read_text(), re.S)
    assert [b.strip() for b in blocks] == ['bash tools/course.sh', 'bash tools/test.sh']
    assert 'bash tools/test.sh' in (root / '.ci' / 'run').read_text().splitlines()
    assert (root / 'nbs' / 'images' / 'decision_boundary.png').stat().st_size > 10_000

def test_version_comes_from_settings():
    import backprop_nbdev
    assert backprop_nbdev.__version__ == cfg()['version']
    r = subprocess.run([sys.executable, 'setup.py', '--version'], cwd=root, capture_output=True, text=True)
    assert r.stdout.strip().splitlines()[-1] == cfg()['version']

def test_titles_match_file_numbers():
    "Numbered notebooks open '# NN — Title', '> summary', NN the file's number; no module exported twice."
    mods = []
    for nb in NBS:
        if nb.stem == 'index': continue
        md = next(c for c in cells(nb) if c['cell_type'] == 'markdown')
        title = ''.join(md['source']).splitlines()
        assert title[0].startswith(f"# {nb.stem[:2]} — "), (nb.name, title[0])
        assert title[1].startswith('> '), nb.name
        mods += re.findall(r'#\|\s*default_exp\s+(\w+)', nb.read_text())
    assert len(mods) == len(set(mods)), 'two notebooks export the same module'

def test_no_issue_talk():
    "Notebooks, README, tools, benchmarks speak of the project alone: no issues, no 'the original notebook'."
    texts = {p: p.read_text() for p in [*NBS, root / 'README.md', *(root / 'benchmarks').glob('*.py'),
                                        *(root / 'tools').glob('*')]}
    for p, t in texts.items():
        for bad in (r'\bthe issue\b', r'\bissue \d+', r'\bissues?\b(?! of)', r'\boriginal notebook\b'):
            m = re.search(bad, t, re.I)
            assert not m, f"{p.relative_to(root)}: {t[max(0, m.start() - 60):m.end() + 40]!r}"

def test_code_lines_stay_short():
    "No code line over 110 characters: notebooks' code cells (they make the library), tests, tools."
    long = []
    for nb in NBS:
        for c in cells(nb):
            if c['cell_type'] == 'code':
                long += [(nb.name, l) for l in ''.join(c['source']).splitlines() if len(l) > 110]
    for p in [p for d in ('tests', 'benchmarks', 'tools') for p in (root / d).glob('*.py')]:
        long += [(p.name, l) for l in p.read_text().splitlines() if len(l) > 110]
    assert not long, long[:5]

def test_public_api_is_deliberate():
    "`from backprop_nbdev import *`: course functions and classes, no modules, validators, drawing internals."
    ns = {}
    exec('import io\nfrom backprop_nbdev import *', ns)
    import io, backprop_nbdev
    assert ns['io'] is io                                    # the standard library's io is not shadowed
    api = set(backprop_nbdev.__all__)
    assert {'train', 'forward', 'backward', 'Playground', 'Stepper', 'Trainer', 'save_model', 'load_model',
            'check_backward', 'mlp', 'fit', 'moons'} <= api
    from backprop_nbdev import checks
    assert not any(n.startswith('_') for n in api) and not api & set(checks.__all__), (
        sorted(api & set(checks.__all__)))
    assert not api & {'describe', 'atomic_write', 'Table', 'max_weights', 'colour_table', 'png_bytes',
                      'max_coord'}
    assert len(api) == len(backprop_nbdev.__all__), 'a name is exported twice'
    assert len(api) <= 100, len(api)

def test_server_setting_quoted_in_the_playground_lesson_is_the_courses():
    "The one line 18 tells learners to copy into their own JupyterLab config is the one course.sh uses."
    prose = ''.join(''.join(c['source']) for c in cells(root / 'nbs' / '19_playground.ipynb')
                    if c['cell_type'] == 'markdown')
    quoted = re.findall(r'`(c\.MappingKernelManager\.[^`]+)`', prose)
    config = (root / 'tools' / 'jupyter_server_config.py').read_text()
    assert quoted and all(q in config for q in quoted), quoted
