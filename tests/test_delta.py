"""Guard cases of the δ view's functions (25_backward_signal): bad arguments named, odd states."""
import json
import pytest
import torch
from backprop_nbdev.datasets import xor4
from backprop_nbdev.trainer import Trainer
from backprop_nbdev.delta import (DeltaView, contributions, deltas, follow, point_passes,
                                  share_data, view_data)


@pytest.fixture
def t():
    X, y = xor4()
    return Trainer(X, y, scale=0.5)


def test_not_a_trainer():
    with pytest.raises(TypeError, match='t must be a Trainer, got'): point_passes('net')


@pytest.mark.parametrize('index, kind, text', [
    (-1, ValueError, 'index must be an integer >= 0 and <= 3, got -1'),
    (1.0, TypeError, 'index must be an integer >= 0 and <= 3, got'),
    (True, TypeError, 'index must be an integer >= 0 and <= 3, got'),
])
def test_bad_index(t, index, kind, text):
    with pytest.raises(kind, match=text.replace('[', r'\[')): deltas(t, index)


@pytest.mark.parametrize('args, text', [
    ((-1, 0, 0), 'layer must be an integer >= 0 and <= 1, got -1'),
    ((0, 2, 0), 'i must be an integer >= 0 and <= 1, got 2'),
    ((0, 0, 3), 'j must be an integer >= 0 and <= 2, got 3'),
    ((1, None, 1), 'j must be an integer >= 0 and <= 0, got 1'),
])
def test_bad_wire(t, args, text):
    with pytest.raises(ValueError, match=text): contributions(t, *args)


def test_leaves_training_alone(t):
    "Looking at δ changes no weight, and the next epochs are those of a run never looked at."
    u = Trainer(*xor4(), scale=0.5)
    view_data(t, 1)
    contributions(t, 1, 0, 0)
    t.step(50)
    u.step(50)
    for a, b in zip(t.net.params(), u.net.params()): assert torch.equal(a, b)


def test_diverged_values_are_json(t):
    "A diverged network (NaN weights) gives the page valid JSON: None where a value is not finite."
    for p in t.net.params(): p.fill_(float('nan'))
    v = view_data(t)
    assert v['deltas'] == [[None] * 2, [None] * 3, [None]] and v['top'] == 1e-12
    s = share_data(t, 1, 0, 0, (0, 1, 0, 1))
    json.dumps([v, s], allow_nan=False)
    assert s['sum'] is None and s['values'] == [None] * 4


def test_view_survives_a_new_trainer(t):
    "A new trainer with fewer points (the playground swaps them): the view falls back to the mean."
    box = {'t': t}
    dv = DeltaView(lambda: box['t'])
    dv.pick(3)
    X, y = xor4()
    box['t'] = Trainer(X[:2], y[:2], scale=0.5)
    dv.refresh()
    assert dv.view['source'] == 'the batch mean'


def test_follow_redraws_at_most_every(t):
    "Following, a burst of frames redraws once per `every` seconds, and never when off."
    class Fake:
        frames = 0
        def frame(self, epochs): self.frames += 1
    class View:
        n = 0
        def refresh(self): self.n += 1
    pg, dv, now, on = Fake(), View(), [0.0], [True]
    follow(pg, dv, lambda: on[0], every=0.25, clock=lambda: now[0])
    for k in range(10):
        now[0] = k * 0.1
        pg.frame(None)
    assert (pg.frames, dv.n) == (10, 4)                 # at 0, 0.3, 0.6, 0.9 s
    on[0] = False
    now[0] = 5.0
    pg.frame(None)
    assert (pg.frames, dv.n) == (11, 4)
