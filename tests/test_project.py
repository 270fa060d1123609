"""Checks on the project itself: the README is generated, its commands are the ones CI runs,
settings.ini rules, the public API is deliberate, notebooks are numbered and speak of the project
alone."""
import ast, configparser, io, json, re, subprocess, sys, tokenize
from pathlib import Path

root = Path(__file__).resolve().parent.parent
NBS = sorted((root / 'nbs').glob('*.ipynb'))

def cfg():
    c = configparser.ConfigParser(delimiters=['='])
    c.read(root / 'settings.ini')
    return c['DEFAULT']

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
    r = subprocess.run([sys.executable, 'setup.py', '--version'], cwd=root, capture_output=True,
                       text=True)
    assert r.stdout.strip().splitlines()[-1] == cfg()['version']

def test_titles_match_file_numbers():
    "Notebooks open '# NN — Title', '> summary', NN the file's number; no module exported twice."
    mods = []
    for nb in NBS:
        if nb.stem == 'index': continue
        md = next(c for c in cells(nb) if c['cell_type'] == 'markdown')
        title = ''.join(md['source']).splitlines()
        number = nb.stem.split('_')[0]   # '01', 'A1', 'A10'
        assert title[0].startswith(f"# {number} — "), (nb.name, title[0])
        assert title[1].startswith('> '), nb.name
        mods += re.findall(r'#\|\s*default_exp\s+(\w+)', nb.read_text())
    assert len(mods) == len(set(mods)), 'two notebooks export the same module'

def test_no_issue_talk():
    "Notebooks, README, tools, benchmarks speak of the project alone: no issues, no seed talk."
    texts = {p: p.read_text() for p in [*NBS, root / 'README.md',
                                        *(root / 'benchmarks').glob('*.py'),
                                        *(p for p in (root / 'tools').rglob('*')
                                          if p.is_file() and '__pycache__' not in p.parts)]}
    for p, t in texts.items():
        bad_words = (r'\bthe issue\b', r'\bissue \d+', r'\bissues?\b(?! of)',
                     r'\boriginal notebook\b')
        for bad in bad_words:
            m = re.search(bad, t, re.I)
            assert not m, f"{p.relative_to(root)}: {t[max(0, m.start() - 60):m.end() + 40]!r}"

def code_files():
    "Every code file: package modules, the page's JS, tests, tools, benchmarks."
    pkg = [p for p in (root / 'backprop_nbdev').glob('*.py') if p.name != '_modidx.py']
    js = list((root / 'backprop_nbdev' / 'static').glob('*.js'))
    rest = [p for d in ('tests', 'benchmarks', 'tools') for p in (root / d).rglob('*.py')]
    return pkg, js, rest

def test_code_lines_stay_short():
    "No code line over 100 characters: notebooks' code cells, the package, its JS, tests, tools."
    long = []
    for nb in NBS:
        for c in cells(nb):
            if c['cell_type'] == 'code':
                long += [(nb.name, l) for l in ''.join(c['source']).splitlines() if len(l) > 100]
    for p in [p for group in code_files() for p in group]:
        long += [(p.name, l) for l in written_lines(p) if len(l) > 100]
    assert not long, long[:5]

def written_lines(p):
    "`p`'s lines but two nbdev writes: the summary as docstring (prose) and the `__all__` list."
    out, in_all = [], False
    for i, l in enumerate(p.read_text().splitlines()):
        starts = l.startswith('__all__ = [')
        if not (starts or in_all or (i == 0 and l.startswith('"""'))):
            out.append(l)
        in_all = (starts or in_all) and not l.rstrip().endswith(']')
    return out

def python_semicolons(src):
    "Lines where `;` joins two Python statements: two statements of one block on one line."
    lines = [l for l in src.splitlines() if not l.startswith(('!', '%'))]
    tree = ast.parse('\n'.join(lines))
    bad = set()
    for node in ast.walk(tree):
        for field in ('body', 'orelse', 'finalbody'):
            block = getattr(node, field, None)
            if isinstance(block, list):
                bad |= {b.lineno for a, b in zip(block, block[1:]) if b.lineno == a.end_lineno}
    return sorted(bad)

def js_semicolons(src):
    "Lines of JS where a `;` is followed by more code (a `for (;;)` header aside)."
    bad = []
    for i, line in enumerate(src.splitlines(), 1):
        code = re.sub(r'//.*$', '', re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "''", line)).strip()
        if code.startswith('for ') or code.startswith('for('):
            continue
        if re.search(r';\s*\S', code):
            bad.append(i)
    return bad

def test_no_semicolon_joined_statements():
    "One statement per line, in Python (notebooks, package, tests, tools) and in the page's JS."
    bad = []
    for nb in NBS:
        for c in cells(nb):
            if c['cell_type'] == 'code':
                src = ''.join(c['source'])
                bad += [(nb.name, n) for n in python_semicolons(src)]
    pkg, js, rest = code_files()
    bad += [(p.name, n) for p in pkg + rest for n in python_semicolons(p.read_text())]
    bad += [(p.name, n) for p in js for n in js_semicolons(p.read_text())]
    assert not bad, bad[:10]

def test_no_private_name_crosses_a_module():
    "No `_name` is imported from another module of the package, in the package or in tests."
    pkg, _, rest = code_files()
    bad = []
    for p in pkg + [p for p in rest if p.parent.name == 'tests']:
        for node in ast.walk(ast.parse(p.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level or 'backprop_nbdev' in (node.module or ''):
                bad += [(p.name, a.name) for a in node.names
                        if a.name.startswith('_') and not a.name.startswith('__')]
    assert not bad, bad

def test_modules_and_functions_stay_small():
    "No package module over 400 lines, no function over 30 (generated headers count)."
    pkg, _, _ = code_files()
    big = [(p.name, n) for p in pkg if (n := len(p.read_text().splitlines())) > 400]
    long = []
    for p in pkg:
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if (n := node.end_lineno - node.lineno + 1) > 30:
                    long.append((p.name, node.name, n))
    assert not big and not long, (big, long)

def test_lessons_and_appendix_are_two_lists():
    "The index (so the README) lists the lessons and the appendix apart, each notebook, in order."
    text = (root / 'README.md').read_text()
    lessons = text[text.index('## The lessons'):text.index('## The appendix')]
    appendix = text[text.index('## The appendix'):]
    for nb in NBS:
        if nb.stem == 'index':
            continue
        part = appendix if nb.stem.startswith('A') else lessons
        assert part.count(f'`{nb.stem}`') >= 1, nb.stem
    order = [m for m in re.findall(r'^\| `(\w+)`', text, re.M)]
    number = lambda s: (s.startswith('A'), int(re.match(r'A?(\d+)', s)[1]))   # A2 before A10
    assert order == sorted(order, key=number), order

def test_public_api_is_deliberate():
    "`from backprop_nbdev import *`: course functions and classes; no modules or validators."
    ns = {}
    exec('import io\nfrom backprop_nbdev import *', ns)
    import io, backprop_nbdev
    assert ns['io'] is io   # the standard library's io is not shadowed
    api = set(backprop_nbdev.__all__)
    assert {'train', 'forward', 'backward', 'Playground', 'Stepper', 'Trainer', 'save_model',
            'load_model',
            'check_backward', 'mlp', 'fit', 'moons'} <= api
    from backprop_nbdev import checks
    assert not any(n.startswith('_') for n in api) and not api & set(checks.__all__), (
        sorted(api & set(checks.__all__)))
    assert not api & {'describe', 'atomic_write', 'Table', 'max_weights', 'colour_table',
                      'png_bytes', 'max_coord', 'check_x', 'check_xy', 'run_epoch', 'CMAP',
                      'stoppable', 'FrameWindow'}
    assert len(api) == len(backprop_nbdev.__all__), 'a name is exported twice'
    assert len(api) <= 120, len(api)

def test_the_playground_lesson_asks_for_no_server_setting():
    "The live view needs no server setting: the playground lesson tells learners to set none."
    prose = ''.join(''.join(c['source']) for c in cells(root / 'nbs' / '19_playground.ipynb')
                    if c['cell_type'] == 'markdown')
    assert not re.findall(r'`c\.\w+\.\w+', prose), 'a server setting is quoted'
    assert 'jupyter_server_config' not in prose
