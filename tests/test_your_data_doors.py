"The doors of 23_your_data that the lesson does not show: each refusal names what came."
import numpy as np
import pytest
import torch
from backprop_nbdev.datasets import make_2d
from backprop_nbdev.trainer import Trainer
from backprop_nbdev.your_data import (NO_POINTS, YOUR_DATA, Playground, add_point, check_points,
                                      max_points)

X, Y = make_2d('moons', n=40, seed=0)


@pytest.mark.parametrize('X_, y_, msg', [
    (X.numpy(), Y, 'X must be a torch.Tensor, got array('),
    (X, Y.numpy(), 'y must be a torch.Tensor'),
    (X.long(), Y, 'X must be a floating-point tensor'),
    (X[None], Y, 'X must be a tensor of points (n, 2), got a torch.float32 tensor of shape (1,'),
    (torch.zeros(max_points + 1, 2), torch.zeros(max_points + 1), 'got 1001'),
    (X, Y.reshape(1, -1), 'y must be labels of shape (40,) or (40, 1)'),
    (X, torch.full_like(Y, float('inf')), 'y must hold only finite values'),
    (X, torch.ones_like(Y), 'y must hold both classes 0 and 1, got only 1'),
])
def test_check_points_refuses(X_, y_, msg):
    with pytest.raises((TypeError, ValueError)) as e: check_points(X_, y_)
    assert msg in str(e.value), str(e.value)


def test_float64_points_train():
    pg = Playground(X=X.double(), y=Y.double(), seed=0)
    pg.step()
    assert pg.trainer.X.dtype == torch.float64 and pg.trainer.epoch == 10
    pg.edit('add', (0.0, 0.0), 1)
    assert pg.own[0].dtype == torch.float64 and len(pg.trainer.X) == 41
    pg.close()


def test_y_alone_and_bad_messages():
    with pytest.raises(ValueError, match='X and y must be given together, got only y'):
        Playground(y=Y)
    pg = Playground(X=X, y=Y, seed=0)
    for m, msg in [(dict(op='add', x=float('nan'), y=0), 'x must be a finite number'),
                   (dict(op='add', x=0, y=None), 'y must be a finite number'),
                   (dict(op=None), "op must be one of ['add', 'remove', 'clear'], got None"),
                   (dict(op='add', x=0, y=0, cls='1'), "cls must be 0 or 1, got '1' (str)")]:
        pg.board.receive(dict(type='edit', **m))
        assert msg in str(pg.error), (m, pg.error)
        assert len(pg.own[0]) == 40 and not pg.playing      # refused: nothing changed, paused
    pg.close()


def test_cap_at_the_board_and_an_empty_board_plays_nothing():
    pg = Playground(X=torch.zeros(max_points, 2), y=(torch.arange(max_points) % 2).float())
    pg.board.receive(dict(type='edit', op='add', x=0.5, y=0.5, cls=0))
    assert f'at most {max_points}' in str(pg.error) and len(pg.own[0]) == max_points
    pg.board.receive(dict(type='edit', op='clear'))
    pg.playing = True
    pg.run_frames(3)                                         # as the play loop would
    assert str(pg.error) == NO_POINTS and not pg.playing and pg.trainer.epoch == 0
    pg.close()


def test_set_data_refuses_and_add_point_keeps_dtype():
    t = Trainer(X, Y, seed=0)
    with pytest.raises(TypeError, match='X must be a torch.Tensor'): t.set_data(X.tolist(), Y)
    with pytest.raises(ValueError, match='y must hold 0/1 labels'): t.set_data(X, Y + 0.5)
    with pytest.raises(TypeError, match='y must have the dtype of X'): t.set_data(X, Y.double())
    X1, y1 = add_point(X.double(), Y.double(), np.array([1, 2]), 0)
    assert X1.dtype == torch.float64 and X1[-1].tolist() == [1.0, 2.0]
    assert YOUR_DATA == 'your data'


def test_edit_while_playing_trains_on_with_the_same_network():
    pg = Playground(X=X, y=Y, seed=0, speed=5)
    pg.playing = True
    pg.run_frames(2)
    W = [p.clone() for p in pg.trainer.net.params()]
    pg.edit('add', (0.0, 0.0), 1)
    assert pg.playing and pg.trainer.epoch == 10 and len(pg.trainer.X) == 41
    assert all(torch.equal(a, b) for a, b in zip(W, pg.trainer.net.params()))
    pg.run_frames(1)
    assert pg.trainer.epoch == 15 and pg.error is None
    pg.close()


def test_own_points_train_with_your_backward():
    "Your points with your backward pass: its trainer, after an edit too."
    from backprop_nbdev import backward
    X = torch.tensor([[0., 0.], [1., 1.], [0., 1.], [1., 0.], [0.5, 0.5]])
    y = torch.tensor([0., 0., 1., 1., 0.])
    pg = Playground(X=X, y=y, backward=backward)
    assert type(pg.trainer).__name__ == 'BackwardTrainer'
    pg.board.receive({'type': 'edit', 'op': 'add', 'x': 0.2, 'y': 0.8, 'cls': 1})
    pg.buttons['step'].click()
    assert type(pg.trainer).__name__ == 'BackwardTrainer' and len(pg.trainer.X) == 6
    assert pg.error is None
