"""heartmula: HeartMuLa music generation, HeartCodec and HeartTranscriptor from Python.

A ctypes binding over libheartmula.so (no compiler, no PyTorch); numpy arrays in and out.

    import heartmula
    with heartmula.Engine("./ckpt", version="3B") as e:
        song = e.generate("[verse]\\nla la la\\n", "pop,piano", seed=1, max_audio_ms=30000)
    song.codes   # int32 [8, n_frames]
    song.audio   # float32 [2, n_samples] at song.sample_rate (48000)

    codec = heartmula.Codec("./ckpt/HeartCodec-oss")
    wav = codec.decode(song.codes, seed=1)          # the same audio again

    w = heartmula.Whisper("./ckpt/HeartTranscriptor-oss")
    print(w.transcribe_file("song.mp3").text)

The library is found through HEARTMULA_LIBRARY, next to this package, or the system's
library path. Errors raise HeartMuLaError with the library's message (it names the file,
tensor, field or argument at fault). Objects hold C handles: close() them, or use `with`.
Thread safety is the C library's: a model may be shared, an Engine runs one job at a time.
Embeddings (HeartCLAP) will come when the library has them.
"""
import ctypes
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import numpy as np

from . import _capi
from ._capi import lib

__all__ = ["HeartMuLaError", "version", "Engine", "Song", "generate", "Codec", "Whisper", "Transcript",
           "Segment"]


class HeartMuLaError(RuntimeError):
    """A failed library call: status (the hm_status number) and the library's message."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{lib.hm_status_str(status).decode()}: {message}")
        self.status = status
        self.message = message


ABORTED = 6  # HM_ERR_ABORTED


def _check(status: int):
    if status != 0:
        raise HeartMuLaError(status, lib.hm_last_error().decode("utf-8", "replace"))


def _enc(s: Optional[str]) -> Optional[bytes]:
    return None if s is None else str(s).encode("utf-8")


def version() -> str:
    """The linked library's version ("0.1.0")."""
    return lib.hm_version().decode()


class _Callbacks:
    """Python callables behind the C callbacks; an exception raised in one stops the call and is
    raised again when it returns."""

    def __init__(self, progress=None, abort=None):
        self.progress, self.abort, self.error = progress, abort, None

    def guard(self, fn, *args, fail=None):
        if self.error is not None:
            return fail
        try:
            return fn(*args)
        except BaseException as e:  # noqa: B036 - re-raised after the C call returns
            self.error = e
            return fail

    def c_progress(self):
        if not self.progress:
            return _capi.PROGRESS()
        return _capi.PROGRESS(lambda ud, done, total: self.guard(self.progress, done, total))

    def c_abort(self):
        return _capi.ABORT(lambda ud: self.error is not None or bool(self.abort and self.guard(self.abort, fail=True)))

    def reraise(self):
        if self.error is not None:
            e, self.error = self.error, None
            raise e


def _codes_array(codes, n_codebooks: Optional[int] = None) -> np.ndarray:
    a = np.ascontiguousarray(codes, dtype=np.int32)
    if a.ndim != 2 or (n_codebooks is not None and a.shape[0] != n_codebooks):
        want = f"[{n_codebooks}, n_frames]" if n_codebooks else "[n_codebooks, n_frames]"
        raise ValueError(f"codes must be an int array {want}, got shape {list(a.shape)}")
    return a


# ---- the engine: lyrics + tags -> codes -> audio ----

@dataclass
class Song:
    """A job's results: codes [n_codebooks, n_frames] (int32), audio [2, n_samples] (float32, None for
    codes-only jobs) at sample_rate, and the timings of the stages (seconds)."""
    codes: np.ndarray
    audio: Optional[np.ndarray]
    sample_rate: int
    timings: dict = field(default_factory=dict)


_MEMORY = {"keep": 0, "staged": 1}
_WEIGHTS = {"as-stored": 0, "f32": 1, "bf16": 2, "q8_0": 3, "q4_0": 4}


class Engine:
    """The long-lived engine (hm_engine): opens a checkpoint folder (HeartMuLa-oss-<version>/,
    HeartCodec-oss/, tokenizer.json, gen_config.json) once and runs jobs. memory "keep" keeps
    both models loaded between jobs; "staged" loads and frees each stage per job (lowest peak)."""

    def __init__(self, model_path: str, version: str = "3B", memory: str = "keep", n_threads: int = 0,
                 n_codec_threads: int = 0, mula_weights: str = "bf16", codec_bf16: bool = False,
                 require_codec: bool = True, clap_path: Optional[str] = None):
        p = lib.hm_engine_default_params()
        self._clap_path = _enc(clap_path)
        p.clap_path = self._clap_path
        self._version = _enc(version)
        p.version = self._version
        p.memory = _MEMORY[memory]
        p.n_threads = n_threads
        p.n_codec_threads = n_codec_threads
        p.mula_weights = _WEIGHTS[mula_weights]
        p.codec_bf16 = codec_bf16
        p.require_codec = require_codec
        h = ctypes.c_void_p()
        _check(lib.hm_engine_open(_enc(model_path), ctypes.byref(p), ctypes.byref(h)))
        self._h = h

    def close(self):
        if getattr(self, "_h", None):
            lib.hm_engine_close(self._h)
            self._h = None

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def generate(self, lyrics: str, tags: str = "", *, max_audio_ms: int = 240000, topk: int = 50,
                 temperature: float = 1.0, cfg_scale: float = 1.5, codec_steps: int = 10,
                 codec_guidance: float = 1.25, seed: int = 0, history=None, history_in_output: bool = False,
                 output_path: Optional[str] = None, overwrite: bool = False, wav_float: bool = False,
                 stream: bool = False, audio: bool = True, ref_audio: Optional[str] = None,
                 ref_embedding=None, ref_strength: float = 1.0, ref_seconds: float = 10.0,
                 progress: Optional[Callable[[str, int, int], None]] = None,
                 abort: Optional[Callable[[], bool]] = None) -> Song:
        """Runs one job. audio=False (and no output_path) stops after the LM: codes only.
        progress(stage, done, total) with stage "load", "lm", "codec" or "write"; abort() -> True stops
        the job (HeartMuLaError with status 6, no file left). ref_audio (a file) or ref_embedding (512 floats)
        fills the LM's muq slot with ref_strength x its MuQ-MuLan embedding (MODEL_PATH/MuQ-MuLan-large or
        the engine's clap_path)."""
        if not self._h:
            raise ValueError("the engine is closed")
        j = lib.hm_job_default()
        keep = [_enc(lyrics), _enc(tags), _enc(output_path)]
        j.lyrics, j.tags, j.output_path = keep
        j.max_audio_ms, j.topk, j.temperature, j.cfg_scale = max_audio_ms, topk, temperature, cfg_scale
        j.codec_steps, j.codec_guidance, j.seed = codec_steps, codec_guidance, seed
        j.overwrite, j.wav_float, j.stream, j.history_in_output = overwrite, wav_float, stream, history_in_output
        j.ref_strength, j.ref_seconds = ref_strength, ref_seconds
        if ref_audio is not None:
            keep.append(_enc(ref_audio))
            j.ref_audio_path = keep[-1]
        if ref_embedding is not None:
            v = np.ascontiguousarray(np.asarray(ref_embedding, dtype=np.float32).reshape(-1))
            keep.append(v)
            j.ref_embedding = v.ctypes.data_as(_capi.c_float_p)
            j.ref_embedding_dim = v.size
        if history is not None:
            h = _codes_array(history)
            keep.append(h)
            j.history = h.ctypes.data_as(_capi.c_int32_p)
            j.n_history = h.shape[1]
        cbs = _Callbacks(progress, abort)
        chunks: List[np.ndarray] = []
        stages = ("load", "lm", "codec", "write")

        def on_audio(ud, planar, n, first):
            chunks.append(np.ctypeslib.as_array(planar, shape=(2 * n,)).reshape(2, n).copy())
            return 0

        c = _capi.JobCallbacks()
        if progress:
            c.progress = _capi.STAGE_PROGRESS(
                lambda ud, stage, done, total: cbs.guard(progress, stages[stage], done, total))
        c.abort = cbs.c_abort()
        if audio:
            c.on_audio = _capi.AUDIO(lambda ud, planar, n, first: cbs.guard(on_audio, ud, planar, n, first, fail=1))
        r = _capi.GenerateResult()
        st = lib.hm_engine_generate(self._h, ctypes.byref(j), ctypes.byref(c), ctypes.byref(r))
        cbs.reraise()
        _check(st)
        try:
            n = r.n_frames  # codes are [8, n_frames] (the published models' codebooks)
            codes = np.ctypeslib.as_array(r.codes, shape=(8 * n,)).reshape(8, n).copy() if n else \
                np.zeros((8, 0), np.int32)
            timings = {k: getattr(r, "t_" + k) for k in ("load_lm_s", "lm_s", "load_codec_s", "codec_s", "write_s",
                                                        "total_s", "first_audio_s")}
            wav = np.concatenate(chunks, axis=1) if chunks else None
            return Song(codes, wav, r.sample_rate_hz, timings)
        finally:
            lib.hm_generate_result_free(ctypes.byref(r))


def generate(model_path: str, lyrics: str, tags: str = "", *, version: str = "3B", n_threads: int = 0,
             mula_weights: str = "bf16", **job) -> Song:
    """One job on a "staged" engine opened for it (what `heartmula generate` runs); job: Engine.generate's
    keyword arguments."""
    with Engine(model_path, version=version, memory="staged", n_threads=n_threads, mula_weights=mula_weights,
                require_codec=job.get("audio", True) or job.get("output_path") is not None) as e:
        return e.generate(lyrics, tags, **job)


# ---- HeartCodec: codes -> audio ----

class Codec:
    """HeartCodec (hm_codec_model): codes [n_codebooks, n_frames] -> stereo 48 kHz float32 [2, n]."""

    def __init__(self, path: str, bf16: bool = False, n_threads: int = 0):
        p = lib.hm_codec_default_params()
        p.bf16_weights = bf16
        p.n_threads = n_threads
        h = ctypes.c_void_p()
        _check(lib.hm_codec_load(_enc(path), ctypes.byref(p), ctypes.byref(h)))
        self._h = h
        self.sample_rate = lib.hm_codec_sample_rate(h)
        self.n_codebooks = lib.hm_codec_num_codebooks(h)
        self.codebook_size = lib.hm_codec_codebook_size(h)

    def close(self):
        if getattr(self, "_h", None):
            lib.hm_codec_free(self._h)
            self._h = None

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def decode(self, codes, *, steps: int = 10, guidance: float = 1.25, seed: int = 0, n_threads: int = 0,
               noise: Optional[Callable[[int], np.ndarray]] = None,
               progress: Optional[Callable[[int, int], None]] = None,
               abort: Optional[Callable[[], bool]] = None) -> np.ndarray:
        """Decodes window by window. seed: the noise (a job's seed reproduces its audio); noise(n) -> n
        standard-normal draws replaces the seeded noise (upstream's torch.randn calls, in order)."""
        if not self._h:
            raise ValueError("the codec is closed")
        a = _codes_array(codes, self.n_codebooks)
        p = lib.hm_codec_default_params()
        p.steps, p.guidance, p.seed, p.n_threads = steps, guidance, seed, n_threads
        cbs = _Callbacks(progress, abort)

        def draw(ud, dst, n):
            v = np.ascontiguousarray(noise(int(n)), dtype=np.float32).reshape(-1)
            if v.size != n:
                raise ValueError(f"noise({n}) returned {v.size} values")
            ctypes.memmove(dst, v.ctypes.data, 4 * int(n))
            return 0

        if noise:
            p.noise = _capi.NOISE(lambda ud, dst, n: cbs.guard(draw, ud, dst, n, fail=1))
        wav = _capi.c_float_p()
        n = ctypes.c_int64()
        st = lib.hm_codec_decode(self._h, a.ctypes.data_as(_capi.c_int32_p), a.shape[1], ctypes.byref(p),
                                 cbs.c_progress(), cbs.c_abort(), None, ctypes.byref(wav), ctypes.byref(n))
        try:
            cbs.reraise()
            _check(st)
            return np.ctypeslib.as_array(wav, shape=(2 * n.value,)).reshape(2, n.value).copy()
        finally:
            lib.hm_free(wav)


# ---- HeartTranscriptor: audio -> lyrics ----

@dataclass
class Segment:
    start_s: float
    end_s: float
    text: str
    tokens: np.ndarray


@dataclass
class Transcript:
    text: str
    language: str
    duration_s: float
    segments: List[Segment]
    formatted: Optional[str] = None  # the text in the format asked for (txt, lrc, srt, vtt, json)


class Whisper:
    """HeartTranscriptor (Whisper large-v3 layout, hm_whisper_model)."""

    def __init__(self, path: str):
        h = ctypes.c_void_p()
        _check(lib.hm_whisper_load(_enc(path), ctypes.byref(h)))
        self._h = h
        self.sample_rate = lib.hm_whisper_sample_rate(h)

    def close(self):
        if getattr(self, "_h", None):
            lib.hm_whisper_free(self._h)
            self._h = None

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _params(self, language, translate, timestamps, max_new_tokens, n_threads, temperature_fallback, seed):
        p = lib.hm_whisper_default_params()
        self._lang = _enc(language)
        p.language = self._lang
        p.translate, p.timestamps, p.max_new_tokens = translate, timestamps, max_new_tokens
        p.n_threads, p.temperature_fallback, p.seed = n_threads, temperature_fallback, seed
        return p

    def _run(self, call, fmt, cbs):
        t = ctypes.POINTER(_capi.Transcript)()
        st = call(ctypes.byref(t))
        cbs.reraise()
        _check(st)
        try:
            T = t.contents
            segs = []
            for i in range(T.n_segments):
                s = T.segments[i]
                toks = np.ctypeslib.as_array(s.tokens, shape=(s.n_tokens,)).copy() if s.n_tokens else \
                    np.zeros(0, np.int32)
                segs.append(Segment(s.start_s, s.end_s, s.text.decode("utf-8", "replace"), toks))
            out = Transcript(T.text.decode("utf-8", "replace"), T.language.decode(), T.duration_s, segs)
            if fmt:
                buf = ctypes.c_void_p()
                _check(lib.hm_transcript_format(t, _enc(fmt), ctypes.byref(buf)))
                out.formatted = ctypes.string_at(buf).decode("utf-8", "replace")
                lib.hm_free(buf)
            return out
        finally:
            lib.hm_transcript_free(t)

    def transcribe(self, pcm, *, language: Optional[str] = "en", translate: bool = False, timestamps: bool = False,
                   max_new_tokens: int = 0, n_threads: int = 0, temperature_fallback: bool = False, seed: int = 0,
                   format: Optional[str] = None, progress=None, abort=None) -> Transcript:
        """pcm: mono float32 at self.sample_rate (16000). language None or "auto": detected per window."""
        if not self._h:
            raise ValueError("the model is closed")
        a = np.ascontiguousarray(pcm, dtype=np.float32).reshape(-1)
        p = self._params(language, translate, timestamps, max_new_tokens, n_threads, temperature_fallback, seed)
        cbs = _Callbacks(progress, abort)
        return self._run(lambda out: lib.hm_whisper_transcribe(self._h, a.ctypes.data_as(_capi.c_float_p), a.size,
                                                               ctypes.byref(p), cbs.c_progress(), cbs.c_abort(), None,
                                                               out), format, cbs)

    def transcribe_file(self, path: str, *, language: Optional[str] = "en", translate: bool = False,
                        timestamps: bool = False, max_new_tokens: int = 0, n_threads: int = 0,
                        temperature_fallback: bool = False, seed: int = 0, format: Optional[str] = None,
                        progress=None, abort=None) -> Transcript:
        """Any audio file libsndfile reads, downmixed and resampled."""
        if not self._h:
            raise ValueError("the model is closed")
        p = self._params(language, translate, timestamps, max_new_tokens, n_threads, temperature_fallback, seed)
        cbs = _Callbacks(progress, abort)
        return self._run(lambda out: lib.hm_whisper_transcribe_file(self._h, _enc(path), ctypes.byref(p),
                                                                    cbs.c_progress(), cbs.c_abort(), None, out),
                         format, cbs)
