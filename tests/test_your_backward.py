"Guard cases of 24_your_backward: what a learner's backward pass may return, what it covers."
import pytest
import torch
from backprop_nbdev.xor import xor_data
from backprop_nbdev.params import init_params
from backprop_nbdev.forward import forward
from backprop_nbdev.backward import backward, backward_steps
from backprop_nbdev.your_backward import (
    BackwardError, BackwardTrainer, check_grads, run_backward, wire_gaps, gap_bound)

X, y = xor_data()
p = init_params(2, 3, 1, seed=42)
c = forward(X, p)[1]
g = backward(X, y, p, c)


@pytest.mark.parametrize('out, says', [
    ((g.W1, g.b1, g.W2), 'must return Grads'),
    (list(g), 'must return Grads'),
    (g._replace(b1=g.b1[None]), "db1 must be a tensor of shape (3,)"),
    (g._replace(W2=g.W2.double()), "dW2 must be a tensor of shape (3, 1) and dtype torch.float32"),
    (g._replace(W1=[[0.0] * 3] * 2), "dW1 must be a tensor"),
    (g._replace(b2=torch.tensor([float('inf')])), "db2 must be finite"),
])
def test_check_grads_refuses(out, says):
    with pytest.raises(BackwardError) as e: check_grads(out, p)
    assert says in str(e.value)


def test_steps_and_tuples_are_accepted():
    assert check_grads(tuple(g), p).W1.shape == (2, 3)
    assert check_grads(tuple(backward_steps(X, y, p, c)), p).b2.shape == (1,)


def test_fn_writing_into_its_arguments_leaves_the_network_alone():
    def meddler(X, y, params, cache):
        params.W1.zero_()
        return backward(X, y, params, cache)
    before = p.W1.clone()
    run_backward(meddler, X, y, p, c)
    assert torch.equal(p.W1, before)


def test_an_exception_outside_fn_names_no_line():
    with pytest.raises(BackwardError, match=r"^sum raised TypeError: "):
        run_backward(sum, X, y, p, c)


def test_gap_of_the_right_gradient_in_float64():
    X64, y64 = xor_data(dtype=torch.float64)
    p64 = init_params(2, 3, 1, seed=7, dtype=torch.float64)
    g64 = backward(X64, y64, p64, forward(X64, p64)[1])
    assert wire_gaps(g64, X64, y64, p64).max() <= gap_bound(4, torch.float64)


@pytest.mark.parametrize('setting, value', [('activation', 'tanh'), ('loss', 'bce'),
                                             ('l2', 0.01), ('batch_size', 2)])
def test_contract_refuses_other_settings(setting, value):
    with pytest.raises(ValueError, match=f"{setting} must be"):
        BackwardTrainer(X, y, backward, **{setting: value})


def test_a_step_setting_moved_later_is_refused_at_the_step():
    t = BackwardTrainer(X, y, backward)
    t.batch_size = 2
    with pytest.raises(ValueError, match="batch_size must be None, got 2"): t.step(1)
    with pytest.raises(ValueError, match="batch_size must be None, got 2"): t.gaps()
    assert t.epoch == 0


def test_playground_refuses_a_non_function():
    from backprop_nbdev.playground import Playground
    with pytest.raises(TypeError, match=r"backward must be a function .* got 3 \(int\)"):
        Playground(backward=3)
