"""ctypes declarations of include/heartmula.h (the structs and functions the binding calls).

Keep in step with the header: each Structure lists the C struct's fields in order.
"""
import ctypes
import ctypes.util
import os

c_int32_p = ctypes.POINTER(ctypes.c_int32)
c_float_p = ctypes.POINTER(ctypes.c_float)

PROGRESS = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)
ABORT = ctypes.CFUNCTYPE(ctypes.c_bool, ctypes.c_void_p)
STAGE_PROGRESS = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
AUDIO = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, c_float_p, ctypes.c_int64, ctypes.c_int64)
FRAME = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int32), ctypes.c_int64)
NOISE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, c_float_p, ctypes.c_int64)


class EngineParams(ctypes.Structure):
    _fields_ = [("version", ctypes.c_char_p), ("memory", ctypes.c_int), ("n_threads", ctypes.c_int),
                ("n_codec_threads", ctypes.c_int), ("mula_weights", ctypes.c_int), ("codec_bf16", ctypes.c_bool),
                ("require_codec", ctypes.c_bool), ("mula_model", ctypes.c_void_p), ("codec_model", ctypes.c_void_p),
                ("clap_path", ctypes.c_char_p), ("clap_model", ctypes.c_void_p)]


class Job(ctypes.Structure):
    _fields_ = [("lyrics", ctypes.c_char_p), ("tags", ctypes.c_char_p), ("max_audio_ms", ctypes.c_int64),
                ("topk", ctypes.c_int), ("temperature", ctypes.c_float), ("cfg_scale", ctypes.c_float),
                ("codec_steps", ctypes.c_int), ("codec_guidance", ctypes.c_float), ("seed", ctypes.c_uint64),
                ("history", c_int32_p), ("n_history", ctypes.c_int64), ("history_in_output", ctypes.c_bool),
                ("output_path", ctypes.c_char_p), ("overwrite", ctypes.c_bool), ("wav_float", ctypes.c_bool),
                ("stream", ctypes.c_bool), ("ref_audio_path", ctypes.c_char_p), ("ref_embedding", c_float_p),
                ("ref_embedding_dim", ctypes.c_int), ("ref_strength", ctypes.c_float), ("ref_seconds", ctypes.c_double)]


class JobCallbacks(ctypes.Structure):
    _fields_ = [("progress", STAGE_PROGRESS), ("abort", ABORT), ("on_audio", AUDIO), ("user_data", ctypes.c_void_p),
                ("on_frame", FRAME)]


class GenerateResult(ctypes.Structure):
    _fields_ = [("codes", c_int32_p), ("n_frames", ctypes.c_int64), ("n_samples", ctypes.c_int64),
                ("sample_rate_hz", ctypes.c_int), ("n_windows", ctypes.c_int64), ("n_lm_loads", ctypes.c_int),
                ("n_codec_loads", ctypes.c_int), ("t_load_lm_s", ctypes.c_double), ("t_lm_s", ctypes.c_double),
                ("t_load_codec_s", ctypes.c_double), ("t_codec_s", ctypes.c_double), ("t_write_s", ctypes.c_double),
                ("t_total_s", ctypes.c_double), ("t_first_audio_s", ctypes.c_double),
                ("peak_rss_bytes", ctypes.c_int64), ("n_clap_loads", ctypes.c_int), ("t_load_clap_s", ctypes.c_double),
                ("t_ref_s", ctypes.c_double)]


class CodecParams(ctypes.Structure):
    _fields_ = [("steps", ctypes.c_int), ("guidance", ctypes.c_float), ("seed", ctypes.c_uint64),
                ("n_threads", ctypes.c_int), ("bf16_weights", ctypes.c_bool), ("noise", NOISE),
                ("noise_user_data", ctypes.c_void_p)]


class WhisperParams(ctypes.Structure):
    _fields_ = [("language", ctypes.c_char_p), ("translate", ctypes.c_bool), ("timestamps", ctypes.c_bool),
                ("max_new_tokens", ctypes.c_int), ("chunk_length_s", ctypes.c_double),
                ("stride_length_s", ctypes.c_double), ("n_threads", ctypes.c_int),
                ("temperature_fallback", ctypes.c_bool), ("seed", ctypes.c_uint64)]


class TranscriptSegment(ctypes.Structure):
    _fields_ = [("start_s", ctypes.c_double), ("end_s", ctypes.c_double), ("text", ctypes.c_char_p),
                ("tokens", c_int32_p), ("n_tokens", ctypes.c_int)]


class Transcript(ctypes.Structure):
    _fields_ = [("text", ctypes.c_char_p), ("language", ctypes.c_char * 16), ("duration_s", ctypes.c_double),
                ("segments", ctypes.POINTER(TranscriptSegment)), ("n_segments", ctypes.c_int)]


def _find_library():
    env = os.environ.get("HEARTMULA_LIBRARY")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("libheartmula.so", "libheartmula.so.0"):
        p = os.path.join(here, name)
        if os.path.exists(p):
            return p
    found = ctypes.util.find_library("heartmula")
    if found:
        return found
    raise OSError("libheartmula.so not found: install heartmula.c (make install) or set HEARTMULA_LIBRARY")


def _declare(lib):
    P = ctypes.POINTER
    vp = ctypes.c_void_p
    st = ctypes.c_int
    sig = {
        "hm_version": (ctypes.c_char_p, []),
        "hm_version_number": (ctypes.c_int, []),
        "hm_free": (None, [vp]),
        "hm_last_error": (ctypes.c_char_p, []),
        "hm_status_str": (ctypes.c_char_p, [st]),
        "hm_engine_default_params": (EngineParams, []),
        "hm_engine_open": (st, [ctypes.c_char_p, P(EngineParams), P(vp)]),
        "hm_engine_close": (None, [vp]),
        "hm_job_default": (Job, []),
        "hm_engine_generate": (st, [vp, P(Job), P(JobCallbacks), P(GenerateResult)]),
        "hm_generate_result_free": (None, [P(GenerateResult)]),
        "hm_codec_default_params": (CodecParams, []),
        "hm_codec_load": (st, [ctypes.c_char_p, P(CodecParams), P(vp)]),
        "hm_codec_free": (None, [vp]),
        "hm_codec_sample_rate": (ctypes.c_int, [vp]),
        "hm_codec_num_codebooks": (ctypes.c_int, [vp]),
        "hm_codec_codebook_size": (ctypes.c_int, [vp]),
        "hm_codec_decode": (st, [vp, c_int32_p, ctypes.c_int64, P(CodecParams), PROGRESS, ABORT, vp,
                                 P(c_float_p), P(ctypes.c_int64)]),
        "hm_whisper_default_params": (WhisperParams, []),
        "hm_whisper_load": (st, [ctypes.c_char_p, P(vp)]),
        "hm_whisper_free": (None, [vp]),
        "hm_whisper_sample_rate": (ctypes.c_int, [vp]),
        "hm_whisper_transcribe": (st, [vp, c_float_p, ctypes.c_int64, P(WhisperParams), PROGRESS, ABORT, vp,
                                       P(P(Transcript))]),
        "hm_whisper_transcribe_file": (st, [vp, ctypes.c_char_p, P(WhisperParams), PROGRESS, ABORT, vp,
                                            P(P(Transcript))]),
        "hm_transcript_free": (None, [P(Transcript)]),
        "hm_transcript_format": (st, [P(Transcript), ctypes.c_char_p, P(ctypes.c_void_p)]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args
    return lib


lib = _declare(ctypes.CDLL(_find_library()))
