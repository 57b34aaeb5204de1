/* src/engine internals: the codec stage that jobs (streaming or not) and
 * hm_decode_to_file share. Internal header (the public one is heartmula.h). */
#ifndef HM_ENGINE_INTERNAL_H
#define HM_ENGINE_INTERNAL_H
#include "base/base.h"
#include "codec/codec_stream.h"
#include "io/audio.h"

#include <pthread.h>
#include <stdatomic.h>

/* One job's codec stage. The codes buffer is filled by the LM thread up to n_known (under mu, cv
 * signalled); final: n_known is the song's length. */
typedef struct eng_codec {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_mutex_t cb_mu;     /* the user's callbacks run one at a time */
  hm_job_callbacks cb;
  atomic_bool stop;          /* abort, or either side failed */
  bool lm_failed;            /* the LM side failed or aborted (the codec side reports nothing) */
  int32_t *codes;            /* [n_cb][stride] codebook-major */
  int n_cb;                  /* codebooks (the LM's) */
  int64_t stride, n_cap, n_known;
  bool final;
  const hm_codec_model *codec;
  hm_codec_params cp;
  cx_stream *cs;
  cx_stream **cache;         /* where the stream goes back at the end (NULL: freed) */
  hm_audio_writer *wr;
  bool clamp_checked;        /* codes one past the codebook warned about (once, on the final codes) */
  bool final_snapshot;       /* progress totals: what the worker knew at its last window */
  int64_t n_final_snapshot, steps_done;
  int64_t n_samples;         /* samples per channel out */
  int64_t t_start, t_first_audio_us, t_codec_us, t_write_us;
  hm_status worker_st;
  char worker_msg[1024];
} eng_codec;

/* init/destroy: the synchronisation (whole job); begin/end: stream and file (end moves the file into place
 * when st is HM_OK, else removes it, and returns the final status). */
void eng_codec_init(eng_codec *c, const hm_job_callbacks *cb);
void eng_codec_destroy(eng_codec *c);
/* cache (may be NULL): a stream kept from an earlier job, reset and used when it fits; the stream goes
 * back there at the end. */
hm_status eng_codec_begin(eng_codec *c, const hm_codec_model *codec, const hm_codec_params *cp, const char *output_path,
                          bool overwrite, bool wav_float, cx_stream **cache);
hm_status eng_codec_end(eng_codec *c, hm_status st);
/* Decodes every window as its codes become known until the song is final and all samples are out. */
hm_status eng_codec_run(eng_codec *c);
/* Known extension, existing folder, no existing file unless overwrite; wav_float needs .wav. */
hm_status eng_check_output(const char *path, bool overwrite, bool wav_float);

#endif
