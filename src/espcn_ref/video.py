"""Super-resolving a video frame by frame (Sec. 3.5 of the paper).

Video. Frames are read with imageio's ffmpeg plugin and written with
imageio-ffmpeg's ``write_frames``, which that plugin runs (the
imageio-ffmpeg wheel ships its own ffmpeg). Each frame is super-resolved
like an image: Y through the network, Cb and Cr bicubic.

Decoding, upscaling and encoding run at once (:mod:`espcn_ref._pipeline`)::

    decode thread --(QUEUE_FRAMES)--> upscale_image, this thread --(QUEUE_FRAMES)--> encode thread

ffmpeg decodes and encodes in its own processes, and the network and the
colour kernels release the GIL, so while frame k is upscaled, frame k + 1
is decoded and frame k - 1 encoded. The frames are encoded in their order
and are the bytes the one-after-the-other loop (``pipelined=False``) hands
to the encoder (tested). At most QUEUE_FRAMES + 2 decoded and QUEUE_FRAMES
+ 2 upscaled frames exist at once.
"""

from __future__ import annotations

import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np

from ._atomic import atomic_path
from ._checks import check_int
from ._pipeline import StageError, run_in_order, run_pipeline
from .upscale import check_output_size, upscale_image

QUEUE_FRAMES = 4  # frames waiting between decoding and upscaling, and again between upscaling and encoding

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm")
# WebM holds only VP8/VP9/AV1 video; every other container here takes H.264.
VIDEO_CODECS = {".webm": "libvpx-vp9"}


def _check_written_video(tmp: Path, dst: Path, frames: int, size: tuple) -> None:
    """Read back what ffmpeg wrote: a failed encode (it can exit quietly, e.g.
    "Could not write header") must not be renamed into place."""
    import imageio.v2 as iio

    try:
        reader = iio.get_reader(tmp, format="ffmpeg")
        try:
            got_size, got_frames = tuple(reader.get_meta_data()["size"]), reader.count_frames()
        finally:
            reader.close()
    except Exception as e:
        raise ValueError(f"ffmpeg could not write {dst} ({type(e).__name__}); {dst} is unchanged") from None
    if got_size != tuple(size) or got_frames != frames:
        raise ValueError(f"ffmpeg wrote {got_frames} frames of {got_size[0]}x{got_size[1]} instead of "
                         f"{frames} of {size[0]}x{size[1]}; {dst} is unchanged")


def start_encoder(path: Path, size: tuple, fps: float, codec: str, pix: str):
    """ffmpeg encoding uint8 RGB frames of ``size`` (width, height) into ``path``,
    started now, in this thread. codec: ffmpeg's encoder (libx264,
    libvpx-vp9); pix: the file's pixel format (yuv420p, yuv444p). Returns a
    generator: ``.send(frame)`` writes one (a C-contiguous (height, width, 3)
    uint8 array), ``.close()`` finishes the file.

    It is what imageio's ffmpeg writer runs (imageio-ffmpeg's write_frames,
    the same settings), but imageio's writer starts ffmpeg at its first frame,
    which the pipeline writes from its encode thread. A process started then
    can hang the network: imageio-ffmpeg starts ffmpeg with a preexec_fn, so
    the process is forked, and OpenBLAS's fork handler stops its worker
    threads under the GEMM running in the main thread, which then waits for
    them for ever. So both ffmpeg processes start before any thread does.
    """
    import imageio_ffmpeg

    encoder = imageio_ffmpeg.write_frames(str(path), size, pix_fmt_in="rgb24", pix_fmt_out=pix, fps=fps, quality=None,
                                          codec=codec, macro_block_size=1, ffmpeg_log_level="error")
    encoder.send(None)  # ffmpeg starts here
    return encoder


def declared_frames(meta: dict, fps: float) -> int | None:
    """The frame count a container declares: its frame count, else round(duration x fps); None if neither."""
    n = meta.get("nframes")
    if isinstance(n, (int, float)) and np.isfinite(n) and n > 0:
        return int(n)
    duration = meta.get("duration")
    if isinstance(duration, (int, float)) and np.isfinite(duration) and duration > 0 and meta.get("fps"):
        return round(duration * fps)
    return None


def check_frame_count(src: Path, dst: Path, meta: dict, fps: float, frames: int) -> None:
    """A truncated or damaged input must not become a silently shorter output.

    Fewer decoded frames than the container declares (one frame of slack for
    a duration rounded to the frame) is an error, and ``dst`` is left as it
    was; a container that declares nothing gets a warning that says so.
    """
    want = declared_frames(meta, fps)
    if want is None:
        warnings.warn(f"{src}: declares no frame count or duration; the {frames} decoded frames could not be "
                      "checked against it", UserWarning, stacklevel=3)
    elif frames < want - 1:
        raise ValueError(f"{src}: decoded {frames} frames but the file declares {want}: it is truncated or "
                         f"damaged; {dst} is unchanged")


def is_video(path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def upscale_video(method, src, dst, r: int, progress: bool = True, pipelined: bool = True) -> dict:
    """Super-resolve every frame of ``src`` into ``dst`` (same frame rate).

    method: "bicubic", or an ESPCN, Ensemble or SelfEnsemble of scale r.
    The output is H.264 (VP9 for .webm), yuv420p, or yuv444p when a side is
    odd, which 4:2:0 cannot encode. It is video only: an audio track is not copied (a UserWarning
    says so). It is written to a temporary file next to ``dst``, read back
    (size and frame count) and only then renamed, so a failed encode never
    replaces ``dst``. A truncated or damaged input (fewer frames decoded than
    the file declares, or a decoding error) is an error and leaves ``dst``
    unchanged; an input that declares no count gets a warning
    (:func:`check_frame_count`).

    Decoding, upscaling and encoding overlap (the module doc);
    ``pipelined=False`` runs them one after the other, with the same output
    and errors. The progress bar counts frames and shows the frames upscaled
    per second so far ("fps").
    Returns {"frames": n, "fps": the video's frame rate, "size": (width, height),
    "fps_achieved": frames upscaled per second, from the first decoded frame
    to the closed output file}.
    """
    import imageio.v2 as iio

    r = check_int(r, "r", 1)
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise FileNotFoundError(f"video not found: {src}")
    if not is_video(dst):
        raise ValueError(f"unsupported video extension {dst.suffix!r} for {dst}; "
                         f"use one of {', '.join(VIDEO_EXTENSIONS)}")
    if dst.resolve() == src.resolve():
        raise ValueError(f"the output {dst} is the input video; choose another output file")
    try:
        reader = iio.get_reader(src, format="ffmpeg")
        meta = reader.get_meta_data()
    except Exception as e:
        raise ValueError(f"{src}: cannot read as a video ({type(e).__name__})") from None
    if meta.get("audio_codec"):
        warnings.warn(f"{src}: its audio track ({meta['audio_codec']}) is not copied to {dst}",
                      UserWarning, stacklevel=2)
    fps = float(meta.get("fps") or 25.0)
    w_in, h_in = meta["size"]
    try:
        check_output_size(h_in, w_in, r)  # before any frame is decoded
    except ValueError:
        reader.close()
        raise
    size = (r * w_in, r * h_in)
    pix = "yuv420p" if size[0] % 2 == 0 and size[1] % 2 == 0 else "yuv444p"
    bar = None
    if progress:
        from tqdm.auto import tqdm

        total = meta.get("nframes")
        bar = tqdm(total=total if isinstance(total, int) and total > 0 else None, unit="frame", disable=None)
    run = partial(run_pipeline, maxsize_in=QUEUE_FRAMES, maxsize_out=QUEUE_FRAMES, name="espcn-ref video") \
        if pipelined else run_in_order
    try:
        with atomic_path(dst, suffix=dst.suffix) as tmp:
            try:
                encoder = start_encoder(tmp, size, fps, VIDEO_CODECS.get(dst.suffix.lower(), "libx264"), pix)
            except OSError as e:  # ffmpeg did not start
                raise ValueError(f"ffmpeg could not write {dst} ({type(e).__name__}); {dst} is unchanged") from None
            start, encoded = time.perf_counter(), 0

            def encode(frame):
                nonlocal encoded
                encoder.send(frame)
                encoded += 1
                if bar is not None:
                    bar.set_postfix_str(f"{encoded / (time.perf_counter() - start):.2f} fps", refresh=False)
                    bar.update(1)

            try:
                frames = run(reader, lambda frame: upscale_image(method, np.asarray(frame)[..., :3], r), encode)
            except StageError as e:
                if not isinstance(e.error, (OSError, RuntimeError)):
                    raise e.error from None
                if e.stage == "read":  # ffmpeg stopped on damaged data
                    raise ValueError(f"{src}: cannot decode past frame {e.done} ({type(e.error).__name__}); "
                                     f"{dst} is unchanged") from None
                raise ValueError(f"ffmpeg could not write {dst} ({type(e.error).__name__}); {dst} is unchanged") from None
            finally:
                encoder.close()  # ffmpeg finishes the file
            seconds = time.perf_counter() - start
            if frames == 0:
                raise ValueError(f"{src}: the video has no frames")
            check_frame_count(src, dst, meta, fps, frames)
            _check_written_video(tmp, dst, frames, size)
    finally:
        reader.close()
        if bar is not None:
            bar.close()
    return {"frames": frames, "fps": fps, "size": size, "fps_achieved": frames / seconds}
