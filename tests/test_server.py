"""The server extension (A10_server): a wheel installs the file that enables it, a Jupyter server
of this environment loads it and logs one line, disabling it works, and that server has no torch."""
import subprocess, sys, zipfile
from pathlib import Path
import psutil
from backprop_nbdev import __version__   # settings.ini's, as setup.py's
from test_playground_browser import jupyter

root = Path(__file__).resolve().parent.parent
LINE = 'backprop_nbdev: kernel websockets send at once (TCP_NODELAY)'
CONFIG = 'etc/jupyter/jupyter_server_config.d/backprop_nbdev.json'


def test_wheel_enables_the_extension(tmp_path):
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation',
                    '-w', str(tmp_path), str(root)], check=True, capture_output=True)
    wheel = zipfile.ZipFile(next(tmp_path.glob('backprop_nbdev-*.whl')))
    data = [n for n in wheel.namelist() if n.endswith(CONFIG)]
    assert data == [f'backprop_nbdev-{__version__}.data/data/{CONFIG}'], wheel.namelist()
    assert b'"backprop_nbdev.server": true' in wheel.read(data[0])


def server():
    "The Jupyter server process started by `jupyter` (our child)."
    kids = psutil.Process().children(recursive=True)
    return next(p for p in kids if '-m' in p.cmdline() and 'jupyterlab' in p.cmdline())


def test_server_loads_it_without_torch(tmp_path):
    with jupyter(tmp_path):
        maps = [m.path for m in server().memory_maps()]
        log = (tmp_path / 'jupyter.log').read_text()
    assert LINE in log, log[-3000:]
    assert not [m for m in maps if 'libtorch' in m], 'the server process loaded torch'


def test_disabled_it_is_not_loaded(tmp_path):
    (tmp_path / 'off.py').write_text("c.ServerApp.jpserver_extensions = "
                                     "{'backprop_nbdev.server': False}")
    with jupyter(tmp_path, config=tmp_path / 'off.py'): pass
    assert LINE not in (tmp_path / 'jupyter.log').read_text()
