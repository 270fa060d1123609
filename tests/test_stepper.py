"The stepper's frontend probe, in processes with and without a kernel."
import subprocess, sys

def test_no_frontend_in_a_plain_process():
    "A script has no frontend: the stepper shows its static table there."
    code = 'from backprop_nbdev.stepper import has_frontend\nprint(has_frontend())'
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == 'False', r.stderr
