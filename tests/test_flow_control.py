"""Flow control of the playground's live view, kernel side, without a browser: a fake page acknowledges (or
loses) frames from another thread, as the real page's messages arrive on a kernel thread that is not the
loop's. Run with -s to see what a lost acknowledgement costs."""
import asyncio, threading, time
import numpy as np, pytest
from backprop_nbdev.playground import Playground, _post


def open_view(pg, send=None, view='v'):
    """As a page opening the view does: the board's frames go to `send` (by default appended to the list
    returned, as (content, buffers)), then the view says hello and that it is visible."""
    sent = []
    pg.board.send = send or (lambda content, buffers: sent.append((content, buffers)))
    pg.board._handle({'type': 'hello', 'view': view})
    pg.board._handle({'type': 'visible', 'view': view, 'value': True})
    return sent


class FakePage:
    "Records the board's frames; acks each after `delay` s from another thread, unless told to drop it."
    def __init__(self, pg, delay=0.03, drop=()):
        self.pg, self.board, self.delay, self.drop, self.frames = pg, pg.board, delay, set(drop), []
        open_view(pg, self.receive)

    def receive(self, content, buffers=None):
        self.frames.append((time.perf_counter(), content, len(self.board.flow.inflight)))
        if content['seq'] not in self.drop:
            ack = lambda: _post(self.board._loop, self.board._handle, {'type': 'ack', 'seq': content['seq']})
            threading.Timer(self.delay, ack).start()


def live(seconds, **kw):
    "Make a Playground in a running event loop, hand it to `setup`, play `seconds`, pause; return (pg, page)."
    setup = kw.pop('setup', lambda pg: FakePage(pg))
    async def main():
        pg = Playground(**kw)
        page = setup(pg)
        pg._play()
        await asyncio.sleep(seconds)
        pg._pause()
        await asyncio.sleep(0.05)
        return pg, page
    return asyncio.run(main())


@pytest.mark.parametrize('window', [1, 2, 3])
def test_never_beyond_window(window):
    "Frames in flight never exceed the window, and the loop still runs as fast as the acknowledgements allow."
    pg, page = live(1.0, speed=10, grid=50, window=window, setup=lambda pg: FakePage(pg, delay=0.05))
    in_flight = [k for _, _, k in page.frames]
    assert max(in_flight) <= window, in_flight                # counted with this frame
    sent = len(page.frames) - 1                              # minus the still frame sent on 'visible'
    # about window / round trip, capped by the 60 fps pace
    assert 0.5 * window / 0.05 <= sent <= 65, sent
    print(f'\nwindow {window}, 50 ms round trip: {sent} frames in 1 s')
    pg.close()


def test_no_frames_before_an_ack():
    "With every acknowledgement lost, exactly `window` frames go out, then nothing until the timeout."
    pg, page = live(0.3, speed=10, grid=50, window=2, setup=lambda pg: FakePage(pg, drop=range(10**6)))
    assert len(page.frames) == 2, [c['seq'] for _, c, _ in page.frames]
    assert pg.trainer.epoch == 10                            # and no training ran ahead of the picture either
    pg.close()


@pytest.mark.parametrize('timeout', [0.2, 1.0])
def test_lost_ack_costs_one_timeout(timeout):
    "A lost acknowledgement stalls the loop for about `timeout`, then frames flow again; print what it costs."
    def setup(pg):
        pg.board.flow.timeout = timeout
        return FakePage(pg, delay=0.02, drop={10})
    pg, page = live(1.0 + timeout, speed=10, grid=50, window=1, setup=setup)
    t = {c['seq']: at for at, c, _ in page.frames}
    gaps = sorted(t[s + 1] - t[s] for s in t if s + 1 in t)
    stall, normal = t[11] - t[10], gaps[len(gaps) // 2]
    print(f'\ntimeout {timeout * 1000:.0f} ms: a lost ack stalled the loop {stall * 1000:.0f} ms '
          f'(frames otherwise every {normal * 1000:.0f} ms), so it cost {(stall - normal) * 1000:.0f} ms')
    assert timeout <= stall < timeout + 0.25
    assert page.frames[-1][1]['seq'] > 15, 'frames did not flow again after the timeout'
    pg.close()


def test_backoff_when_the_page_is_gone():
    "Acks never come: each loss in a row doubles the wait, so a vanished page gets a trickle, not a stream."
    def setup(pg):
        pg.board.flow.timeout = 0.05
        return FakePage(pg, drop=range(10**6))
    pg, page = live(1.0, speed=1, grid=20, window=1, setup=setup)
    assert 4 <= len(page.frames) <= 7, len(page.frames)      # 0, .05, .15, .35, .75 s: about five, not sixty
    assert pg.board.flow.lost_run >= 4
    pg.close()


def test_pause_and_unseen_stop_frames_and_training():
    async def main():
        pg = Playground(speed=10, grid=50)
        page = FakePage(pg, delay=0.02)
        pg._play(); await asyncio.sleep(0.3); pg._pause(); await asyncio.sleep(0.05)
        paused, epoch = len(page.frames), pg.trainer.epoch
        await asyncio.sleep(0.3)
        assert len(page.frames) == paused and pg.trainer.epoch == epoch, 'frames or training after Pause'
        pg.board._handle({'type': 'visible', 'view': 'v', 'value': False})
        pg._play(); await asyncio.sleep(0.3)
        assert len(page.frames) == paused and pg.trainer.epoch == epoch, 'frames or training while unseen'
        pg.board._handle({'type': 'visible', 'view': 'v', 'value': True})
        await asyncio.sleep(0.3); pg._pause()
        assert len(page.frames) > paused + 5 and pg.trainer.epoch > epoch, 'did not resume when seen again'
        pg.close()
    asyncio.run(main())


def test_slider_from_another_thread_reaches_the_next_frame():
    "The slider's observer runs on a kernel subshell's thread: it only posts; the next frame uses the value."
    async def main():
        pg = Playground(speed=10, grid=50)
        page = FakePage(pg, delay=0.02)
        pg._play(); await asyncio.sleep(0.2)
        threading.Thread(target=setattr, args=(pg.lr_slider, 'value', 0.1)).start()
        await asyncio.sleep(0.2); pg._pause()
        lrs = [c['lr'] for _, c, _ in page.frames]
        assert lrs[-1] == pytest.approx(0.1) and pg.trainer.lr == pytest.approx(0.1), lrs
        pg.close()
    asyncio.run(main())


def test_losses_of_unsent_frames_reach_the_page():
    "Frames the window held back still deliver their losses with the next frame sent: the curve has no gaps."
    pg = Playground(speed=5, grid=10, window=1)
    sent = open_view(pg)
    for _ in range(4): pg._frame(5)   # window 1, no acks: only the still frame sent on 'visible' is out
    pg.board._handle({'type': 'ack', 'seq': pg.board.flow.seq})
    pg._frame(5)
    losses = [v for _, b in sent for v in np.frombuffer(b[1], '<f4')]
    assert len(sent) == 2 and sent[-1][0]['start'] == 1
    assert losses == pytest.approx(pg.trainer.history) and len(losses) == 25
    pg.close()


def test_a_new_view_gets_the_whole_curve():
    "A view opened later (a reload, a second view) gets one frame with the whole curve, epochs spelled out."
    pg = Playground(speed=100, grid=10)
    sent = open_view(pg, view='a')
    for _ in range(3):
        pg._frame(100); pg.board._handle({'type': 'ack', 'seq': pg.board.flow.seq})
    pg.board._handle({'type': 'hello', 'view': 'b'})
    c, b = sent[-1]
    assert c['reset'] and len(b) >= 3 and np.frombuffer(b[2], '<f8')[-1] == 300
    pg.close()


def test_the_largest_network_reaches_the_page_whole():
    "4 hidden layers of 16 units: every unit's map, every weight and (gradient mode) every ∂L/∂w arrive."
    pg = Playground(dataset='moons', hidden=16, depth=4, activation='tanh', loss='bce', lr=0.3,
                    speed=5, grid=20)
    pg.board.mode = 'gradients'
    sent = open_view(pg)
    pg._frame(5)
    c, b = sent[-1]
    net, t = c['net'], pg.trainer
    assert net['sizes'] == [2, 16, 16, 16, 16, 1] and net['mode'] == 'gradients'
    n_params = sum(p.numel() for p in t.net.params())
    assert n_params == 2 * 16 + 16 + 3 * (16 * 16 + 16) + 16 + 1
    assert len(b[net['maps']]) == (2 + 4 * 16 + 1) * net['m'] ** 2      # inputs, hidden units, output
    weights, grads = (np.frombuffer(b[net[k]], '<f4') for k in ('weights', 'grads'))
    assert len(weights) == len(grads) == n_params
    expect = np.concatenate([g.float().flatten().numpy() for g in t.gradients()])
    assert np.allclose(grads, expect) and np.abs(grads).max() > 0
    pg.close()


def test_the_largest_network_has_a_static_figure():
    "Without a frontend the 4×16 network is drawn too: a PNG of the boundary, the curves and all 67 units."
    pg = Playground(dataset='moons', hidden=16, depth=4, activation='tanh', loss='bce', lr=0.3, grid=20)
    png = pg.static_png()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 10_000
    pg.close()
