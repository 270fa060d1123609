"""Write README.md from nbs/index.ipynb (what `nbdev_readme` does, without Quarto), and the
README's picture.

    python tools/make_readme.py           write README.md
                                          (and nbs/images/decision_boundary.png if missing)
    python tools/make_readme.py --check   exit 1 if README.md differs from what index.ipynb gives
    python tools/make_readme.py --image   redraw nbs/images/decision_boundary.png
"""
import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
index, readme, image = (root / 'nbs' / 'index.ipynb', root / 'README.md',
                        root / 'nbs' / 'images' / 'decision_boundary.png')

def render(nb):
    """Markdown cells as they are, shown code cells as python blocks; hidden cells and directives
    dropped."""
    out = ['<!-- WARNING: generated from nbs/index.ipynb by tools/make_readme.py; do not edit -->']
    for c in nb['cells']:
        src = ''.join(c['source'])
        lines = src.splitlines()
        if any(re.match(r'#\|\s*hide\b', l) for l in lines): continue
        if c['cell_type'] == 'markdown':
            # images are relative to nbs/ in the notebook, to the repo root in the README
            out.append(re.sub(
                r'\]\((?!https?:|/)([^)]+)\)',
                lambda m: (f"](nbs/{m.group(1)})" if (root / 'nbs' / m.group(1)).exists()
                           else m.group(0)),
                src))
        elif c['cell_type'] == 'code':
            code = '\n'.join(l for l in lines if not l.startswith('#|')).strip()
            if code: out.append(f"```python\n{code}\n```")
    return '\n\n'.join(out) + '\n'

def draw_image():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from backprop_nbdev import xor_data, init_params, train, plot_loss, plot_decision_boundary
    from backprop_nbdev.io import atomic_write
    X, y = xor_data()
    params, losses = train(X, y, init_params(seed=42), lr=1.0, epochs=5000)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
    plot_loss(losses, ax=a1)
    plot_decision_boundary(params, X, y, ax=a2)
    fig.tight_layout()
    image.parent.mkdir(exist_ok=True)
    with atomic_write(image) as tmp: fig.savefig(tmp, format='png', dpi=80)

if __name__ == '__main__':
    text = render(json.loads(index.read_text(encoding='utf-8')))
    if '--check' in sys.argv:
        ok = readme.exists() and readme.read_text(encoding='utf-8') == text
        if not ok:
            print('README.md is out of date with nbs/index.ipynb: run python tools/make_readme.py',
                  file=sys.stderr)
        sys.exit(0 if ok else 1)
    # atomic_write replaces the file only once it is complete, with ordinary permissions
    from backprop_nbdev.io import atomic_write
    if '--image' in sys.argv or not image.exists(): draw_image()
    with atomic_write(readme) as tmp: Path(tmp).write_text(text, encoding='utf-8')
