"""Tiled inference and video upscaling (Sec. 3.4-3.5)."""

import re

import imageio.v2 as iio
import numpy as np
import pytest

from espcn_ref.cli import main
from espcn_ref.data import rgb_to_y_uint8
from espcn_ref.upscale import upscale_image
from espcn_ref.upscale import forward_tiled, receptive_halo
from espcn_ref.video import start_encoder, upscale_video
from espcn_ref.metrics import psnr
from espcn_ref.model import ESPCN, ESPCNConfig
from espcn_ref.ops.blas import rows_independent_of_position


def test_halo_of_the_paper_network():
    assert receptive_halo(ESPCN(3)) == 2 + 1 + 1
    assert receptive_halo(ESPCN(config=ESPCNConfig(hidden=((9, 8),), last_kernel=5))) == 4 + 2


@pytest.mark.parametrize("tile", [1, 5, 16, 50, 1000])
def test_tiled_equals_untiled(tile):
    """Bit for bit when the BLAS's rows do not depend on their position in a
    call (the native kernels); else within float32 rounding (the Haswell
    kernel that OPENBLAS_CORETYPE=Haswell forces, as in this project's CI)."""
    model = ESPCN(3, rng=np.random.default_rng(1))
    x = np.random.default_rng(0).random((2, 1, 37, 53), dtype=np.float32)
    full = model.forward(x)
    tiled = forward_tiled(model, x, tile)
    assert tiled.shape == full.shape == (2, 1, 111, 159)
    _assert_tiled_equals_untiled(tiled, full)


def _assert_tiled_equals_untiled(tiled, full):
    """Equal to the bit with a position-independent BLAS; else within float32 rounding."""
    if rows_independent_of_position():
        np.testing.assert_array_equal(tiled, full)
    else:
        assert np.max(np.abs(tiled - full)) <= 1e-6


def test_a_too_small_halo_would_be_wrong():
    """Negative control: the halo is necessary (cut it and the tile seams show)."""
    model = ESPCN(3, rng=np.random.default_rng(1))
    x = np.random.default_rng(0).random((1, 1, 40, 40), dtype=np.float32)
    seamed = np.concatenate([model.forward(x[:, :, :20]), model.forward(x[:, :, 20:])], axis=2)
    assert np.max(np.abs(seamed - model.forward(x))) > 1e-3


def _write_video(path, frames, fps=8):
    w = iio.get_writer(path, format="ffmpeg", fps=fps, codec="libx264", pixelformat="yuv444p",
                       macro_block_size=1, ffmpeg_log_level="error", quality=10)
    for f in frames:
        w.append_data(f)
    w.close()


def _frames(n=6, h=24, w=30):
    yy, xx = np.mgrid[0:h, 0:w]
    return [np.stack([(xx * 8 + 20 * t) % 256, (yy * 10) % 256, np.full_like(xx, 40 * t % 256)], -1).astype(np.uint8)
            for t in range(n)]


@pytest.mark.parametrize("scale, method", [(2, "bicubic"), (3, "bicubic"), (3, "model")])
def test_video_upscaling_frame_by_frame(tmp_path, scale, method):
    _write_video(tmp_path / "in.mp4", _frames())
    method = ESPCN(scale, rng=np.random.default_rng(2)) if method == "model" else method
    info = upscale_video(method, tmp_path / "in.mp4", tmp_path / "out.mp4", scale, progress=False)
    assert info.pop("fps_achieved") > 0
    assert info == {"frames": 6, "fps": 8.0, "size": (30 * scale, 24 * scale)}
    out = [f for f in iio.get_reader(tmp_path / "out.mp4", format="ffmpeg")]
    src = [f for f in iio.get_reader(tmp_path / "in.mp4", format="ffmpeg")]
    assert len(out) == 6 and out[0].shape == (24 * scale, 30 * scale, 3)
    if method == "bicubic":  # each frame is the image upscaling of the decoded input frame
        for s, o in zip(src, out):
            assert psnr(rgb_to_y_uint8(upscale_image(method, s, scale)), rgb_to_y_uint8(o)) > 35  # H.264 is lossy
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_webm_is_vp9_and_readable(tmp_path):
    """WebM cannot hold H.264: .webm output is VP9 (odd sides: 4:4:4), and it reads back."""
    _write_video(tmp_path / "in.mp4", _frames(3, h=17, w=23))
    info = upscale_video("bicubic", tmp_path / "in.mp4", tmp_path / "out.webm", 3, progress=False)
    reader = iio.get_reader(tmp_path / "out.webm", format="ffmpeg")
    meta, frames = reader.get_meta_data(), [f for f in reader]
    reader.close()
    assert info["size"] == (69, 51) and meta["codec"] == "vp9" and len(frames) == 3
    assert frames[0].shape == (51, 69, 3)


def test_a_failed_encode_leaves_the_old_output(tmp_path, monkeypatch):
    """ffmpeg can fail quietly ("Could not write header": H.264 in WebM). The
    written file is read back before the rename, so dst keeps its old bytes."""
    import espcn_ref.video as video

    _write_video(tmp_path / "in.mp4", _frames(2))
    (tmp_path / "out.webm").write_bytes(b"the previous result")
    monkeypatch.setattr(video, "VIDEO_CODECS", {})  # libx264 for .webm too
    with pytest.raises(ValueError, match="out.webm is unchanged"):
        upscale_video("bicubic", tmp_path / "in.mp4", tmp_path / "out.webm", 2, progress=False)
    assert (tmp_path / "out.webm").read_bytes() == b"the previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.webm"]


class _RecordingEncoder:
    """The encoder of upscale_video (a started write_frames generator), keeping a copy of every frame it is sent."""

    def __init__(self, encoder, frames):
        self.encoder, self.frames = encoder, frames

    def send(self, frame):
        self.frames.append(np.array(frame))
        self.encoder.send(frame)

    def close(self):
        self.encoder.close()


def _wrap_encoder(monkeypatch, wrapper, frames):
    import espcn_ref.video as video

    monkeypatch.setattr(video, "start_encoder", lambda *a: wrapper(start_encoder(*a), frames))


def _threads_back_to(start):
    """No pipeline thread is left, and the thread count comes back to ``start``
    (imageio-ffmpeg's stderr readers end shortly after their reader closes)."""
    import threading
    import time

    assert [t.name for t in threading.enumerate() if t.name.startswith("espcn-ref video")] == []
    deadline = time.monotonic() + 10
    while threading.active_count() > start and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == start, [t.name for t in threading.enumerate()]


def test_pipelined_video_is_the_one_after_the_other_video(tmp_path, monkeypatch):
    """Decoding, upscaling and encoding at once hand the encoder the same frames, in the same order, bit for bit."""
    import threading

    _write_video(tmp_path / "in.mp4", _frames(9, h=20, w=26))
    model = ESPCN(3, rng=np.random.default_rng(5))
    given = {True: [], False: []}
    start = threading.active_count()
    for pipelined in (True, False):
        _wrap_encoder(monkeypatch, _RecordingEncoder, given[pipelined])
        info = upscale_video(model, tmp_path / "in.mp4", tmp_path / f"out_{pipelined}.mp4", 3, progress=False,
                             pipelined=pipelined)
        assert info["frames"] == 9
        _threads_back_to(start)
    src = [f for f in iio.get_reader(tmp_path / "in.mp4", format="ffmpeg")]
    assert len(given[True]) == len(given[False]) == 9
    for k, (a, b) in enumerate(zip(given[True], given[False])):
        assert a.dtype == b.dtype == np.uint8 and a.tobytes() == b.tobytes(), f"frame {k}"
        np.testing.assert_array_equal(a, upscale_image(model, src[k], 3))  # each frame is its own upscaling
    decoded = [[f.tobytes() for f in iio.get_reader(tmp_path / f"out_{p}.mp4", format="ffmpeg")] for p in (True, False)]
    assert decoded[0] == decoded[1]


class _FailingReader:
    """imageio's ffmpeg reader whose iteration raises ``error`` after ``after`` frames."""

    def __init__(self, reader, after, error):
        self.reader, self.after, self.error = reader, after, error

    def get_meta_data(self):
        return self.reader.get_meta_data()

    def __iter__(self):
        for k, frame in enumerate(self.reader):
            if k == self.after:
                raise self.error
            yield frame

    def close(self):
        self.reader.close()


class _FailingEncoder(_RecordingEncoder):
    def send(self, frame):
        if len(self.frames) == 2:
            raise BrokenPipeError("ffmpeg quit")
        super().send(frame)


def _fail_upscaling_at_frame_3(upscale_image):
    seen = []

    def upscale(method, img, r):
        seen.append(1)
        if len(seen) == 4:
            raise ValueError("frame 3 is bad")
        return upscale_image(method, img, r)
    return upscale


VIDEO_STAGE_ERRORS = {  # which stage fails: the error's words
    "decode": r"in.mp4: cannot decode past frame 3 \(RuntimeError\); .*out.mp4 is unchanged",
    "encode": r"ffmpeg could not write .*out.mp4 \(BrokenPipeError\); .*out.mp4 is unchanged",
    "upscale": "frame 3 is bad",
}


@pytest.mark.parametrize("pipelined", [True, False], ids=["pipelined", "in order"])
@pytest.mark.parametrize("stage", VIDEO_STAGE_ERRORS)
def test_a_failing_stage_is_one_error_and_leaves_nothing_running(tmp_path, monkeypatch, stage, pipelined):
    """The first error of any stage stops all three: a one-line error, dst as it was, no temporary file, no thread."""
    import threading

    import espcn_ref.video as video

    _write_video(tmp_path / "in.mp4", _frames(8))
    (tmp_path / "out.mp4").write_bytes(b"the previous result")
    if stage == "decode":
        get_reader = iio.get_reader
        monkeypatch.setattr(iio, "get_reader", lambda *a, **k: _FailingReader(get_reader(*a, **k), 3, RuntimeError("cut")))
    elif stage == "encode":
        _wrap_encoder(monkeypatch, _FailingEncoder, [])
    else:
        monkeypatch.setattr(video, "upscale_image", _fail_upscaling_at_frame_3(video.upscale_image))
    start = threading.active_count()
    with pytest.raises(ValueError, match=VIDEO_STAGE_ERRORS[stage]):
        upscale_video("bicubic", tmp_path / "in.mp4", tmp_path / "out.mp4", 2, progress=False, pipelined=pipelined)
    assert (tmp_path / "out.mp4").read_bytes() == b"the previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4"]
    _threads_back_to(start)


def test_ffmpeg_starts_before_the_pipeline_threads(tmp_path, monkeypatch):
    """Every process starts in the calling thread: a fork from the decode or encode thread can hang
    a GEMM of the network that runs meanwhile (see espcn_ref._pipeline, "Processes")."""
    import subprocess
    import threading

    popen, started_in = subprocess.Popen.__init__, []

    def record(self, *args, **kwargs):
        started_in.append(threading.current_thread().name)
        popen(self, *args, **kwargs)

    _write_video(tmp_path / "in.mp4", _frames(4))
    monkeypatch.setattr(subprocess.Popen, "__init__", record)
    upscale_video(ESPCN(2, rng=np.random.default_rng(1)), tmp_path / "in.mp4", tmp_path / "out.mp4", 2, progress=False)
    assert len(started_in) >= 2 and set(started_in) == {threading.main_thread().name}, started_in

    class LazyEncoder:  # negative control: imageio's writer starts ffmpeg at its first frame (bicubic: no GEMM to hang)
        def __init__(self, path, size, fps, codec, pix):
            self.writer = iio.get_writer(path, format="ffmpeg", fps=fps, codec=codec, pixelformat=pix,
                                         macro_block_size=1, ffmpeg_log_level="error")
            self.send, self.close = self.writer.append_data, self.writer.close

    import espcn_ref.video as video

    monkeypatch.setattr(video, "start_encoder", LazyEncoder)
    started_in.clear()
    upscale_video("bicubic", tmp_path / "in.mp4", tmp_path / "out.mp4", 2, progress=False)
    assert "espcn-ref video write" in started_in, started_in


def test_the_progress_bar_counts_frames_and_shows_fps(tmp_path, monkeypatch):
    """The bar's unit is the frame (tqdm's rate is then frames per second), its postfix says "... fps";
    the summary gives the frames upscaled per second. No speed is asserted."""
    import tqdm.auto

    bars = []

    class Bar:
        def __init__(self, **kwargs):
            self.kwargs, self.updates, self.postfix, self.closed = kwargs, 0, None, False
            bars.append(self)

        def set_postfix_str(self, s, refresh=True):
            self.postfix = s

        def update(self, n=1):
            self.updates += n

        def close(self):
            self.closed = True

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    _write_video(tmp_path / "in.mp4", _frames(5))
    info = upscale_video("bicubic", tmp_path / "in.mp4", tmp_path / "out.mp4", 2)
    (bar,) = bars
    assert bar.kwargs["unit"] == "frame"
    assert bar.updates == 5 and bar.closed
    assert re.fullmatch(r"\d+\.\d\d fps", bar.postfix), bar.postfix
    assert info["fps_achieved"] > 0


def test_audio_is_reported_as_not_copied(tmp_path):
    import subprocess

    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=32x24:rate=10", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "0.3",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(tmp_path / "av.mp4")], check=True)
    with pytest.warns(UserWarning, match=r"audio track \(aac\) is not copied"):
        info = upscale_video("bicubic", tmp_path / "av.mp4", tmp_path / "out.mp4", 2, progress=False)
    assert info["frames"] == 3


def test_video_via_cli_and_errors(tmp_path, capsys):
    _write_video(tmp_path / "in.mp4", _frames(3))
    assert main(["upscale", str(tmp_path / "in.mp4"), str(tmp_path / "out.mp4"), "--scale", "2",
                 "--model", "bicubic", "--quiet"]) == 0
    assert "3 frames" in capsys.readouterr().out
    assert main(["upscale", str(tmp_path / "in.mp4"), str(tmp_path / "out.png"), "--model", "bicubic"]) == 2
    (tmp_path / "bad.mp4").write_bytes(b"not a video at all")
    assert main(["upscale", str(tmp_path / "bad.mp4"), str(tmp_path / "o2.mp4"), "--model", "bicubic"]) == 2
    err = capsys.readouterr().err
    assert "needs a video output" in err and "cannot read as a video" in err
    assert not (tmp_path / "o2.mp4").exists() and not (tmp_path / "out.png").exists()


def test_upscale_image_colour_path():
    """Bicubic colour upscaling equals imresize of the RGB image; with a model,
    Y is the network's output and Cb, Cr stay bicubic's."""
    from espcn_ref.data import imresize, rgb_to_ycbcr
    from espcn_ref.metrics import to_uint8

    rng = np.random.default_rng(3)
    img = (rng.random((20, 26, 3)) * 255).astype(np.uint8)
    np.testing.assert_array_equal(upscale_image("bicubic", img, 3), to_uint8(imresize(img / 255.0, scale=3)))
    model = ESPCN(3)
    model.params = {k: np.zeros_like(v) for k, v in model.params.items()}
    model.params["conv3.bias"][:] = 0.5  # the network answers Y = 0.5 (127.5) everywhere
    pale = (100 + rng.random((20, 26, 3)) * 50).astype(np.uint8)  # no RGB clipping at mid grey
    ours = rgb_to_ycbcr(upscale_image(model, pale, 3).astype(np.float64))
    base = rgb_to_ycbcr(upscale_image("bicubic", pale, 3).astype(np.float64))
    assert np.max(np.abs(ours[..., 0] - 127.5)) < 1.0  # Y: the network's (up to uint8 RGB rounding)
    assert np.max(np.abs(ours[..., 1:] - base[..., 1:])) < 1.5  # Cb, Cr: bicubic's
    np.testing.assert_allclose(upscale_image(model, pale[..., 0], 3), 128, atol=1)  # grayscale: Y only


def _upscale_image_in_steps(method, img, r):
    """upscale_image as it was before its colour steps were compiled and fused: the NumPy twins, step by step."""
    from espcn_ref.data import imresize
    from espcn_ref.data.colour import rgb_to_ycbcr_reference, ycbcr_to_rgb_reference
    from espcn_ref.metrics import to_uint8_reference
    from espcn_ref.upscale import upscale_y

    ycc = rgb_to_ycbcr_reference(img.astype(np.float64))
    y = upscale_y(method, ycc[..., 0] / 255.0, r) * 255.0  # float32 for a model: the product rounds in float32
    rgb = ycbcr_to_rgb_reference(np.concatenate([y[..., None], imresize(ycc[..., 1:], scale=r)], axis=-1))
    return to_uint8_reference(rgb / 255.0)


# SHA-256 (first 16 hex digits) of upscale_image("bicubic", the image below, r), from the code before
# its colour steps were compiled (commit 8b78f3c). Bicubic calls no BLAS, so the bytes are the same everywhere.
BICUBIC_DIGESTS = {2: "7b295f8e8f3edf76", 3: "b3e044a4add0cb01", 4: "d2e8a1c492f5e5ca"}


@pytest.mark.parametrize("r", [2, 3, 4])
def test_upscale_image_keeps_its_bytes(r):
    """The compiled colour steps give the bytes of the NumPy steps, with a model and with bicubic."""
    import hashlib

    from espcn_ref.registry import pretrained

    img = (np.random.default_rng(20).random((29, 37, 3)) * 256).astype(np.uint8)
    got = upscale_image("bicubic", img, r)
    assert hashlib.sha256(got.tobytes()).hexdigest()[:16] == BICUBIC_DIGESTS[r]
    np.testing.assert_array_equal(got, _upscale_image_in_steps("bicubic", img, r))
    model = pretrained(r)
    for x in (img, img[::-1, 3:]):  # a strided view, an even width
        np.testing.assert_array_equal(upscale_image(model, x, r), _upscale_image_in_steps(model, np.asarray(x), r))


def test_large_images_take_the_tiled_path_with_the_same_result(monkeypatch):
    """upscale_y tiles above TILE_ABOVE LR pixels (512x512 tiles); lowering the
    threshold and the tile sends a small image down that path: same result."""
    import espcn_ref.upscale as upscale

    model = ESPCN(3, rng=np.random.default_rng(4))
    lr = np.random.default_rng(5).random((40, 50))
    whole = upscale.upscale_y(model, lr, 3)
    tiles = []
    real = upscale.forward_tiled
    monkeypatch.setattr(upscale, "TILE_ABOVE", 40 * 50 - 1)
    monkeypatch.setattr(upscale, "forward_tiled",
                        lambda m, x, tile: tiles.append(tile) or real(m, x, tile=16))
    tiled = upscale.upscale_y(model, lr, 3)
    assert tiles == [512] and tiled.shape == whole.shape == (120, 150)
    _assert_tiled_equals_untiled(tiled, whole)


def test_tiled_checks_its_input_like_forward_and_keeps_its_dtype():
    model = ESPCN(2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="channel"):  # with no rows, no tile ever reached forward
        forward_tiled(model, np.zeros((1, 7, 0, 5), np.float32))
    with pytest.raises(ValueError, match="non-empty"):
        forward_tiled(model, np.zeros((1, 1, 0, 5), np.float32))
    model.params = {k: v.astype(np.float64) for k, v in model.params.items()}
    x = np.random.default_rng(1).random((1, 1, 9, 7))
    tiled = forward_tiled(model, x, 4)
    assert tiled.dtype == np.float64
    np.testing.assert_allclose(tiled, model.forward(x), rtol=0, atol=1e-12)


def test_upscale_y_refuses_pixels_that_are_not_y_in_0_1():
    from espcn_ref.evaluate import upscale_y

    with pytest.raises(TypeError, match="lr_y must be a float32 or float64 array, got dtype uint8"):
        upscale_y("bicubic", np.zeros((5, 5), np.uint8), 2)
    with pytest.raises(ValueError, match=r"lr_y must have 2 dimensions \(h, w\)"):
        upscale_y("bicubic", np.zeros(5), 2)


@pytest.mark.parametrize("variant, r, want", [("915", 3, 4), ("955", 3, 4), ("955", 2, 6), ("915", 4, 3)])
def test_srcnn_tiled_equals_untiled_and_needs_its_halo(variant, r, want, monkeypatch):
    """SRCNN's halo (its stack's reach, then bicubic's taps; see receptive_halo):
    the same result in tiles; one LR pixel less shows seams."""
    import espcn_ref.upscale as upscale
    from espcn_ref.model import srcnn_config

    model = ESPCN(config=srcnn_config(r, variant), rng=np.random.default_rng(3))
    assert receptive_halo(model) == want
    x = np.random.default_rng(4).random((1, 1, 23, 29), dtype=np.float32)
    full = model.forward(x)
    _assert_tiled_equals_untiled(forward_tiled(model, x, 8), full)
    halo = receptive_halo(model)
    monkeypatch.setattr(upscale, "receptive_halo", lambda m: halo - 1)
    assert np.max(np.abs(forward_tiled(model, x, 8) - full)) > 1e-4
