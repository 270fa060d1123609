"""Flow control of the playground's live view, kernel side, without a browser: a stand-in page
answers (or loses) the frames that ask, from another thread, as the real page's messages arrive on a
kernel thread that is not the loop's. Everything goes through public seams: `board.transport` takes
the frames, `board.receive` delivers what a page sends. Run with -s to see what a lost
acknowledgement costs."""
import asyncio, subprocess, sys, threading, time
import numpy as np
import pytest
from backprop_nbdev.playground import Playground
from backprop_nbdev.board import post


class FakePage:
    "Keeps the board's frames; answers each that asks after `delay` s from another thread."
    def __init__(self, pg, delay=0.02, drop=(), fps=60.0, answer=True):
        self.pg = pg
        self.board = pg.board
        self.delay = delay
        self.drop = set(drop)       # asks (counted from 1) whose answer is lost
        self.fps = fps              # the animation-frame rate this page reports
        self.answer = answer
        self.frames = []            # (time, content, frames in flight after it)
        self.asks = 0
        self.acks = []              # times the page sent an acknowledgement
        self.board.transport = self.receive
        self.say(dict(type='hello'))
        self.say(dict(type='visible', value=True))

    def say(self, m):
        self.board.receive(dict(m, view='v'))

    def receive(self, content, buffers=None):
        self.frames.append((time.perf_counter(), content, self.board.flow.in_flight))
        if not content['ack'] or not self.answer: return
        self.asks += 1
        if self.asks in self.drop: return
        m = dict(type='ack', view='v', seq=content['seq'], fps=self.fps)
        def ack():
            self.acks.append(time.perf_counter())
            post(self.board.loop, self.board.receive, m)
        threading.Timer(self.delay, ack).start()


def live(seconds, setup=None, **kw):
    "Make a Playground in a running event loop, hand it to `setup`, play `seconds`, pause."
    async def main():
        pg = Playground(**kw)
        page = (setup or FakePage)(pg)
        pg.buttons['play'].click()
        await asyncio.sleep(seconds)
        pg.buttons['play'].click()
        await asyncio.sleep(0.05)
        return pg, page
    return asyncio.run(main())


def test_acknowledgements_do_not_grow_with_the_frame_rate():
    "About 66 frames a second reach the page, and about one acknowledgement a second comes back."
    pg, page = live(3.0, speed=10, grid=50)
    # minus the still frame sent on 'visible'
    sent = len(page.frames) - 1
    print(f'\n3 s of Play: {sent} frames out, {len(page.acks)} acknowledgements back')
    assert 120 <= sent <= 3 * 66 + 5, sent                  # paced at 1.1 x the page's 60 Hz
    assert len(page.acks) <= 3 / pg.board.flow.every + 1, page.acks
    pg.close()


def test_the_kernel_paces_itself_by_the_page():
    "A page that reports 30 animation frames a second gets about 33 frames a second."
    pg, page = live(2.0, setup=lambda pg: FakePage(pg, fps=30.0), speed=10, grid=50)
    rate = (len(page.frames) - 2) / 2.0
    assert 25 <= rate <= 36, rate
    pg.close()


def test_never_beyond_the_window():
    "A page that never answers gets exactly `window` frames, and no training runs ahead of them."
    def setup(pg):
        pg.board.flow.window = 10
        return FakePage(pg, answer=False)
    pg, page = live(0.5, setup=setup, speed=10, grid=50)
    assert len(page.frames) == 10, [c['seq'] for _, c, _ in page.frames]
    assert max(k for _, _, k in page.frames) <= 10
    assert pg.trainer.epoch == 9 * 10                        # the still frame trained nothing
    pg.close()


@pytest.mark.parametrize('timeout', [0.2, 0.5])
def test_a_lost_acknowledgement_costs_one_timeout(timeout):
    "With a small window a lost answer stalls the loop for about `timeout`; then frames flow."
    def setup(pg):
        pg.board.flow.timeout = timeout
        pg.board.flow.window = 4
        return FakePage(pg, drop={5})
    pg, page = live(1.0 + timeout, setup=setup, speed=10, grid=50)
    t = [at for at, _, _ in page.frames]
    gaps = sorted(b - a for a, b in zip(t, t[1:]))
    stall, normal = gaps[-1], gaps[len(gaps) // 2]
    print(f'\ntimeout {timeout * 1000:.0f} ms: a lost acknowledgement stalled the loop '
          f'{stall * 1000:.0f} ms (frames otherwise every {normal * 1000:.0f} ms)')
    assert timeout * 0.9 <= stall < timeout + 0.25
    assert pg.board.flow.lost == 1 and pg.board.flow.lost_run == 0
    pg.close()


def test_backoff_when_the_page_is_gone():
    "No answers ever: after the window, one frame per timeout, each wait twice the one before."
    def setup(pg):
        pg.board.flow.timeout = 0.05
        pg.board.flow.window = 2
        return FakePage(pg, answer=False)
    pg, page = live(1.0, setup=setup, speed=1, grid=20)
    # 2 frames, then probes after .05, .1, .2, .4 s (at .05, .15, .35, .75 s): about six, not sixty
    assert 5 <= len(page.frames) <= 7, len(page.frames)
    assert pg.board.flow.lost_run >= 4
    pg.close()


def test_pause_and_unseen_stop_frames_and_training():
    async def main():
        pg = Playground(speed=10, grid=50)
        page = FakePage(pg)
        pg.buttons['play'].click()
        await asyncio.sleep(0.3)
        pg.buttons['play'].click()
        await asyncio.sleep(0.05)
        paused, epoch = len(page.frames), pg.trainer.epoch
        await asyncio.sleep(0.3)
        now = (len(page.frames), pg.trainer.epoch)
        assert now == (paused, epoch), 'frames or training after Pause'
        page.say(dict(type='visible', value=False))
        pg.buttons['play'].click()
        await asyncio.sleep(0.3)
        assert (len(page.frames), pg.trainer.epoch) == (paused, epoch), 'frames or training unseen'
        page.say(dict(type='visible', value=True))
        await asyncio.sleep(0.3)
        pg.buttons['play'].click()
        assert len(page.frames) > paused + 5 and pg.trainer.epoch > epoch, 'did not resume'
        pg.close()
    asyncio.run(main())


def test_a_new_playground_pauses_the_others():
    async def main():
        a = Playground(grid=20)
        FakePage(a)
        a.buttons['play'].click()
        await asyncio.sleep(0.1)
        b = Playground(grid=20)
        assert not a.playing and a.buttons['play'].description == 'Play'
        a.close()
        b.close()
    asyncio.run(main())


def test_slider_from_another_thread_reaches_the_next_frame():
    "The slider's observer runs on another thread: it only posts; the next frame uses the value."
    async def main():
        pg = Playground(speed=10, grid=50)
        page = FakePage(pg)
        pg.buttons['play'].click()
        await asyncio.sleep(0.2)
        threading.Thread(target=setattr, args=(pg.controls['lr'], 'value', 0.1)).start()
        await asyncio.sleep(0.2)
        pg.buttons['play'].click()
        lrs = [c['lr'] for _, c, _ in page.frames]
        assert lrs[-1] == pytest.approx(0.1) and pg.trainer.lr == pytest.approx(0.1), lrs
        pg.close()
    asyncio.run(main())


def test_losses_of_unsent_frames_reach_the_page():
    "Frames the window held back still deliver their losses with the next frame sent: no gaps."
    pg = Playground(speed=5, grid=10)
    pg.board.flow.window = 1
    page = FakePage(pg, answer=False)
    pg.buttons['play'].click()
    pg.run_frames(4)                  # window 1, no answers: only the still frame is out
    page.say(dict(type='ack', seq=pg.board.flow.seq))
    pg.run_frames(1)
    pg.buttons['play'].click()
    assert len(page.frames) == 2 and page.frames[-1][1]['start'] == 1
    pg.close()


def test_a_new_view_gets_the_whole_curve():
    "A view opened later (a reload, a second view) gets one frame with the whole curve."
    pg = Playground(speed=100, grid=10)
    sent = []
    pg.board.transport = lambda c, b: sent.append((c, b))
    for m in [dict(type='hello', view='a'), dict(type='visible', view='a', value=True)]:
        pg.board.receive(m)
    for _ in range(3):
        pg.buttons['step'].click()
    pg.board.receive(dict(type='hello', view='b'))
    pg.board.receive(dict(type='visible', view='b', value=True))
    c, b = sent[-1]
    assert c['reset'] and len(b) >= 3 and np.frombuffer(b[2], '<f8')[-1] == 300
    pg.close()


def test_the_largest_network_reaches_the_page_whole():
    "4 hidden layers of 16 units: every unit's map, every weight and every ∂L/∂w arrive."
    pg = Playground(dataset='moons', hidden=16, depth=4, activation='tanh', loss='bce', lr=0.3,
                    speed=5, grid=20)
    pg.board.mode = 'gradients'
    sent = []
    pg.board.transport = lambda content, buffers: sent.append((content, buffers))
    for m in [dict(type='hello', view='v'), dict(type='visible', view='v', value=True)]:
        pg.board.receive(m)
    pg.buttons['step'].click()
    c, b = sent[-1]
    net, t = c['net'], pg.trainer
    assert net['sizes'] == [2, 16, 16, 16, 16, 1] and net['mode'] == 'gradients'
    n_params = sum(p.numel() for p in t.net.params())
    assert n_params == 2 * 16 + 16 + 3 * (16 * 16 + 16) + 16 + 1
    assert len(b[net['maps']]) == (2 + 4 * 16 + 1) * net['m'] ** 2
    weights, grads = (np.frombuffer(b[net[k]], '<f4') for k in ('weights', 'grads'))
    assert len(weights) == len(grads) == n_params
    expect = np.concatenate([g.float().flatten().numpy() for g in t.gradients()])
    assert np.array_equal(grads, expect) and np.abs(grads).max() > 0   # the same code path twice
    pg.close()


def test_a_paint_error_reported_by_the_page_is_kept():
    pg = Playground(grid=10)
    FakePage(pg).say(dict(type='error', text='TypeError: f.loss.toFixed is not a function'))
    assert list(pg.board.errors) == ['TypeError: f.loss.toFixed is not a function']
    pg.close()


def test_a_refused_playground_leaves_nothing_behind():
    "A refused argument raises one named error, and nothing is printed (no 'Exception ignored')."
    code = ("from backprop_nbdev.playground import Playground\n"
            "for kw in [dict(batch_size=3), dict(l2=0.002), dict(lr=100),\n"
            "           dict(hidden=1024, depth=4)]:\n"
            "    try: Playground(**kw)\n"
            "    except ValueError as e: print(e)\n")
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == '', r.stderr
    assert r.stdout.splitlines()[0].startswith('batch_size must be one of [None, 1, 2'), r.stdout
    assert 'hidden must be an integer >= 1 and <= 16, got 1024' in r.stdout


def test_the_largest_network_has_a_still_figure():
    "Without a frontend the 4×16 network is drawn too, in well under the 60 s it once took."
    pg = Playground(dataset='moons', hidden=16, depth=4, activation='tanh', loss='bce', lr=0.3)
    t0 = time.perf_counter()
    png = pg.static_png()
    took = time.perf_counter() - t0
    print(f'\nstill figure of 2-16x4-1: {took:.2f} s')
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 10_000
    pg.close()
