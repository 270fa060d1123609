"Checks on the project itself: the README is generated, its commands are the ones CI runs, settings.ini rules."
import configparser, re, subprocess, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent

def cfg(): c = configparser.ConfigParser(delimiters=['=']); c.read(root / 'settings.ini'); return c['DEFAULT']

def test_readme_is_generated_from_index():
    r = subprocess.run([sys.executable, 'tools/make_readme.py', '--check'], cwd=root, capture_output=True, text=True)
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

def test_every_notebook_module_is_in_the_public_api():
    "Each exported module is star-imported by the package, so `from backprop_nbdev import *` has every lesson."
    init = (root / 'backprop_nbdev' / '__init__.py').read_text()
    mods = {m.group(1) for nb in (root / 'nbs').glob('*.ipynb') for m in re.finditer(r'#\|\s*default_exp\s+(\w+)', nb.read_text())}
    assert mods, 'no notebooks found'
    private = {'cli': 'a console script, not an API', 'exercise': 'the exercise solutions stay one explicit import away'}
    missing = sorted(m for m in mods - set(private) if f'from .{m} import *' not in init)
    assert not missing, f'modules missing from backprop_nbdev/__init__.py: {missing}'

def test_star_import_gives_the_api_and_no_modules():
    ns = {}
    exec('import io\nfrom backprop_nbdev import *', ns)
    import io, backprop_nbdev
    assert ns['io'] is io                                    # the standard library's io is not shadowed
    assert {'train', 'forward', 'Playground', 'save_model', 'check_backward', 'Sequential'} <= set(ns)
    stars = re.findall(r'^from \.(\w+) import \*$', (root / 'backprop_nbdev' / '__init__.py').read_text(), re.M)
    want = [n for m in stars for n in __import__(f'backprop_nbdev.{m}', fromlist=['_']).__all__]
    assert backprop_nbdev.__all__ == want
    assert len(set(want)) == len(want), 'two lessons export the same name'
