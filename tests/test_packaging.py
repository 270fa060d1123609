"The package as pip builds it (not the editable checkout) works from another directory."
import subprocess, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent

def test_installed_package_reproduces_reference_loss(tmp_path):
    target = tmp_path / 'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
                    '--no-build-isolation', '--target', str(target), str(root)],
                   check=True, capture_output=True)
    code = ("import backprop_nbdev, pathlib; from backprop_nbdev import *\n"
            f"assert pathlib.Path(backprop_nbdev.__file__).is_relative_to({str(target)!r}), "
            "backprop_nbdev.__file__\n"
            "X, y = xor_data(); p, L = train(X, y, init_params(seed=42))\n"
            "print(f'{L[-1]:.7f}')")
    r = subprocess.run([sys.executable, '-c', code], cwd=tmp_path,
                       env={'PYTHONPATH': str(target), 'PATH': '/usr/bin:/bin'},
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '0.0010166'
