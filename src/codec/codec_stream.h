/* HeartCodec decoding one window at a time (the engine's streaming path; the
 * whole-song hm_codec_decode runs on it too, so both give the same samples).
 *
 * A stream holds one window's scratch, the noise source and the pending
 * cross-fade tail. cx_stream_next decodes window k (k = windows done) from the
 * codes known so far and hands out the samples that became final:
 *   not final (the song may grow): only when codes [320k, 320k + 372) are all
 *     known; hands out samples [k * hop, (k + 1) * hop).
 *   final (n_known is the song's length): windows past the known codes read
 *     upstream's periodic padding; the last call hands out the rest of the
 *     song (cx_stream_ready is false once every sample is out).
 * codes: codebook-major with row stride `stride` (>= n_known). */
#ifndef HM_CODEC_STREAM_H
#define HM_CODEC_STREAM_H
#include "codec/codec_internal.h"

typedef struct cx_stream cx_stream;

hm_status cx_stream_create(const hm_codec_model *m, const hm_codec_params *params, cx_stream **out);
void cx_stream_free(cx_stream *s);
/* Starts a new song on the same scratch and pool (what a fresh stream would do: noise reseeded, no
 * in-context latents); params must keep the CFG batch (guidance > 1 or not) and n_threads:
 * cx_stream_fits says whether they do. */
hm_status cx_stream_reset(cx_stream *s, const hm_codec_params *params);
bool cx_stream_fits(const cx_stream *s, const hm_codec_model *m, const hm_codec_params *params);
/* on_latents sees each window's latents (parity tests). */
void cx_stream_set_latents_hook(cx_stream *s, cx_latents_fn fn, void *ud);
int64_t cx_stream_windows_done(const cx_stream *s);
int64_t cx_stream_samples_done(const cx_stream *s);
/* Windows decodable from n_known codes (final: the song's n_windows). */
int64_t cx_stream_windows_for(const cx_stream *s, int64_t n_known, bool final);
/* Whether cx_stream_next has something to do. */
bool cx_stream_ready(const cx_stream *s, int64_t n_known, bool final);
/* on_step: once per Euler step and once per window (the waveform decoder).
 * *planar: [2][*n_samples] (left, then right), valid until the next call;
 * *first_sample: its position in the song. Codes are range-checked per window. */
hm_status cx_stream_next(cx_stream *s, const int32_t *codes, int64_t stride, int64_t n_known, bool final,
                         hm_abort_callback abort_cb, void *user_data, void (*on_step)(void *ctx), void *step_ctx,
                         const float **planar, int64_t *n_samples, int64_t *first_sample);
/* Every code of [8 x n_frames] (row stride `stride`) inside [0, codebook size); the error names the frame. */
hm_status cx_codes_check(const hm_codec_model *m, const int32_t *codes, int64_t stride, int64_t n_frames);

#endif
