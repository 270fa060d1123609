"""An executed notebook through nbdev's own docs processors, then into a page myst-nb renders as
Quarto renders nbdev's.

nbdev (`FilterDefaults().procs()`, settings.ini's skip_procs and procs honoured) adds `show_doc` for
exported names and runs it, drops `#| hide` and `#| export` cells, links names in backticks to their
docs, and turns the title cell into frontmatter. What it leaves for Quarto is mapped here: the
frontmatter back to a title, `#| output: asis` cells to the markdown they print, and the other cell
options (`echo`, `output`, `include`, `warning`, `code-fold`) to myst-nb's tags."""
import ast, json, os, re, sys, warnings
from pathlib import Path
from execnb.nbio import dict2nb, mk_cell
from nbdev.processors import FilterDefaults, exec_show_docs

class ProcessorError(Exception):
    "A cell nbdev's processors could not run: notebook, index in nbs/, first line, error, fix."
    def __init__(self, nb, index, first, error, fix):
        super().__init__(f'{nb} cell {index} ({first!r}): {error}. {fix}')
        self.nb, self.index, self.first, self.error, self.fix = nb, index, first, error, fix

MIXED = ("nbdev's docs run only a notebook's imports, exports and show_doc cells, and this cell "
         'mixes an import with code that needs cells they skip: move its import line(s) into a '
         'cell of their own (or into the import cell at the top) and leave the rest where it is')

def fix_for(source, error):
    "What to change in a cell that nbdev's docs processors could not run."
    try: trees = ast.parse(source).body
    except SyntaxError: trees = []
    imports = [t for t in trees if isinstance(t, (ast.Import, ast.ImportFrom))]
    if imports and len(imports) < len(trees):
        lines = '; '.join(ast.get_source_segment(source, t) for t in imports)
        return f'{MIXED} (its imports: {lines})'
    return f'nbdev runs this cell to render show_doc and it raised {error}: make it run alone'

class ReportingShowDocs(exec_show_docs):
    "nbdev's exec_show_docs, raising a ProcessorError that names the cell as it is in nbs/."
    def __call__(self, cell):
        try: return super().__call__(cell)
        except Exception as e:
            cause = e.__cause__ or e
            error = f'{type(cause).__name__}: {cause}'
            raise ProcessorError(Path(self.nb.path_).name, getattr(cell, 'orig_idx_', None),
                                 getattr(cell, 'orig_first_', ''), error,
                                 fix_for(cell.source, error)) from cause

class Procs(FilterDefaults):
    "nbdev's processors for the docs, with the show_doc runner that names a failing cell."
    def procs(self):
        return [ReportingShowDocs if p is exec_show_docs else p for p in super().procs()]

def run_nbdev(nb_dict, path):
    "Run nbdev's processors on the executed notebook `nb_dict` (from nbs/ file `path`)."
    nb = dict2nb(nb_dict)
    nb.path_ = str(path)
    for i, c in enumerate(nb.cells):
        c.orig_idx_, c.orig_first_ = i, (c.source.splitlines() or [''])[0]
    os.environ['IN_TEST'] = '1'   # as nbdev_docs runs them
    # nbdev warns of every cell that mixes imports and code; the ones it cannot run stop the build
    warnings.filterwarnings('ignore', 'Found cells containing imports and other code')
    try: Procs()(nb)
    finally: del os.environ['IN_TEST']
    return nb

# Quarto's cell options, as nbdev leaves them in the source, and the myst-nb tags that do the same
_OPTION = re.compile(r'^#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')
TAGS = {('echo', 'false'): 'remove-input', ('output', 'false'): 'remove-output',
        ('include', 'false'): 'remove-cell', ('warning', 'false'): 'remove-stderr',
        ('code-fold', 'true'): 'hide-input'}

def split_options(source):
    "({option: value}, code): the leading `#| option: value` lines of a cell, and the rest."
    lines, opts = source.splitlines(), {}
    while lines and (m := _OPTION.match(lines[0])):
        opts[m[1]] = m[2].strip('"\'').lower()
        lines.pop(0)
    return opts, '\n'.join(lines)

def markdown_of(outputs):
    "The text/markdown of a cell's outputs, which Quarto's `output: asis` writes into the page."
    md = [o['data']['text/markdown'] for o in outputs if 'text/markdown' in o.get('data', {})]
    return '\n\n'.join(''.join(m) if isinstance(m, list) else m for m in md)

def show_doc_md(md):
    "show_doc's markdown for docutils and the theme, looking as on an nbdev site."
    # its opening rule as HTML: in docutils a section may not begin with a transition
    md = re.sub(r'\A---[ \t]*\n', '<hr class="bp-showdoc">\n\n', md)
    # its [source] link's Quarto attributes (float right, smaller) as a class that does the same
    return re.sub(r'\)\{target="_blank"[^}]*\}', '){.bp-source}', md)

def cell_to_myst(cell):
    "A processed cell as myst-nb cells: options become tags, `output: asis` becomes markdown."
    if cell.cell_type != 'code': return [cell]
    opts, cell.source = split_options(cell.source)
    tags = cell.metadata.setdefault('tags', [])
    tags += [t for k, v in opts.items() if (t := TAGS.get((k, v))) and t not in tags]
    if opts.get('output') != 'asis': return [cell]
    md = mk_cell(show_doc_md(markdown_of(cell.get('outputs', []))), 'markdown')
    cell.outputs = []
    return [md] if 'remove-input' in tags else [cell, md]

def title_cell(fm):
    "The page's title and summary as markdown, from the frontmatter nbdev made of the first cell."
    md = f"# {fm['title']}\n"
    if fm.get('description'):
        md += f"\n```{{container}} bp-description\n{fm['description']}\n```\n"
    return mk_cell(md, 'markdown')

def to_myst(nb):
    "Map what nbdev left for Quarto to myst-nb; drop nbdev's do-not-edit comment."
    cells = []
    for c in nb.cells:
        fm = getattr(nb, 'frontmatter_', None)
        if c.cell_type == 'raw' and fm and c.source.startswith('---'):
            cells.append(title_cell(fm))
        elif not (c.cell_type == 'markdown' and c.source.startswith('<!-- WARNING: THIS FILE')):
            cells += cell_to_myst(c)
    nb.cells = cells
    return nb

def run(executed, path, root):
    "Worker: the executed notebook `executed` (from nbs/ file `path`) as a page, or its failure."
    from execnb.nbio import nb2dict
    os.chdir(root)   # nbdev reads settings.ini from here
    sys.path.insert(0, str(root))   # and this tree's package is the one imported
    nb_dict = json.loads(Path(executed).read_text(encoding='utf-8'))
    try: nb = to_myst(run_nbdev(nb_dict, path))
    except ProcessorError as e:
        return dict(error=dict(nb=e.nb, index=e.index, first=e.first, error=e.error, fix=e.fix))
    # widget state is data, not cells: nb2dict would read a widget's 'source' trait as cell source
    widgets = nb.metadata.pop('widgets', None)
    page = nb2dict(nb)
    if widgets is not None: page['metadata']['widgets'] = widgets
    return dict(nb=page)
