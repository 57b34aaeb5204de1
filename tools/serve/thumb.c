/* Thumbnails: a coloured log-frequency spectrogram of each finished song, rendered as a PNG
 * (libpng). The worker feeds the song's samples as the engine decodes them (on_audio, in order),
 * one column of 80 log-spaced bands (40 Hz - 16 kHz) per 2048 samples, kept as 8-bit dB, so the
 * memory is bounded by the song's length (about 450 KiB for 4 minutes); at the end the columns are
 * scaled to THUMB_W x THUMB_H and coloured with a magma-like map. */
#include "serve/serve.h"

#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOP 2048         /* samples per column (and the FFT size) */
#define N_BANDS 80
#define MAX_COLS (1 << 17)
#define DB_FLOOR -120.0f /* dB (power relative to full scale) stored as (db - floor) * 2 in a byte */

struct srv_thumb {
  float *frame;          /* [HOP] mono samples waiting for their column */
  int n_frame;
  float *win, *re, *im, *cs, *sn; /* Hann window, FFT work and twiddles */
  int band_lo[N_BANDS], band_hi[N_BANDS]; /* FFT bins [lo, hi) of each band */
  unsigned char *cols;   /* [max_cols][N_BANDS] */
  int64_t n_cols, max_cols;
};

srv_thumb *thumb_new(int64_t max_samples) {
  srv_thumb *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->max_cols = max_samples / HOP + 2;
  if (t->max_cols > MAX_COLS) t->max_cols = MAX_COLS;
  t->frame = malloc(HOP * sizeof(float));
  t->win = malloc(HOP * sizeof(float));
  t->re = malloc(HOP * sizeof(float));
  t->im = malloc(HOP * sizeof(float));
  t->cs = malloc(HOP / 2 * sizeof(float));
  t->sn = malloc(HOP / 2 * sizeof(float));
  t->cols = malloc((size_t)t->max_cols * N_BANDS);
  if (!t->frame || !t->win || !t->re || !t->im || !t->cs || !t->sn || !t->cols) {
    thumb_free(t);
    return NULL;
  }
  const double pi = 3.14159265358979323846;
  for (int i = 0; i < HOP; i++) t->win[i] = (float)(0.5 - 0.5 * cos(2 * pi * i / HOP));
  for (int i = 0; i < HOP / 2; i++) {
    t->cs[i] = (float)cos(-2 * pi * i / HOP);
    t->sn[i] = (float)sin(-2 * pi * i / HOP);
  }
  const double f0 = 40, f1 = 16000, bin_hz = 48000.0 / HOP;
  for (int b = 0; b < N_BANDS; b++) {
    double lo = f0 * pow(f1 / f0, (double)b / N_BANDS), hi = f0 * pow(f1 / f0, (double)(b + 1) / N_BANDS);
    int l = (int)floor(lo / bin_hz + 0.5), h = (int)floor(hi / bin_hz + 0.5);
    if (h <= l) h = l + 1;
    if (h > HOP / 2) h = HOP / 2;
    t->band_lo[b] = l;
    t->band_hi[b] = h;
  }
  return t;
}

void thumb_free(srv_thumb *t) {
  if (!t) return;
  free(t->frame);
  free(t->win);
  free(t->re);
  free(t->im);
  free(t->cs);
  free(t->sn);
  free(t->cols);
  free(t);
}

/* in-place iterative radix-2 FFT of re/im, HOP points */
static void fft(srv_thumb *t) {
  float *re = t->re, *im = t->im;
  for (int i = 1, j = 0; i < HOP; i++) {
    int bit = HOP >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      float a = re[i]; re[i] = re[j]; re[j] = a;
      a = im[i]; im[i] = im[j]; im[j] = a;
    }
  }
  for (int len = 2; len <= HOP; len <<= 1) {
    int step = HOP / len;
    for (int i = 0; i < HOP; i += len)
      for (int k = 0; k < len / 2; k++) {
        float wr = t->cs[k * step], wi = t->sn[k * step];
        float *ar = &re[i + k], *ai = &im[i + k], *br = &re[i + k + len / 2], *bi = &im[i + k + len / 2];
        float xr = *br * wr - *bi * wi, xi = *br * wi + *bi * wr;
        *br = *ar - xr;
        *bi = *ai - xi;
        *ar += xr;
        *ai += xi;
      }
  }
}

static void column(srv_thumb *t) {
  if (t->n_cols >= t->max_cols) return;
  for (int i = 0; i < HOP; i++) {
    t->re[i] = t->frame[i] * t->win[i];
    t->im[i] = 0;
  }
  fft(t);
  unsigned char *c = t->cols + t->n_cols * N_BANDS;
  const float norm = 4.0f / ((float)HOP * (float)HOP); /* a full-scale sine (Hann: gain 1/2) is about 0 dB */
  for (int b = 0; b < N_BANDS; b++) {
    double p = 0;
    for (int k = t->band_lo[b]; k < t->band_hi[b]; k++) p += (double)t->re[k] * t->re[k] + (double)t->im[k] * t->im[k];
    p = p / (t->band_hi[b] - t->band_lo[b]) * norm;
    float db = p > 1e-13 ? (float)(10 * log10(p)) : DB_FLOOR;
    float q = (db - DB_FLOOR) * 2;
    c[b] = (unsigned char)(q < 0 ? 0 : q > 255 ? 255 : q);
  }
  t->n_cols++;
}

void thumb_feed(srv_thumb *t, const float *planar, int64_t n) {
  if (!t) return;
  for (int64_t i = 0; i < n && t->n_cols < t->max_cols; i++) {
    t->frame[t->n_frame++] = 0.5f * (planar[i] + planar[n + i]);
    if (t->n_frame == HOP) {
      column(t);
      t->n_frame = 0;
    }
  }
}

static void colour(float v, unsigned char out[3]) {
  static const float stops[][4] = {{0.00f, 8, 6, 20},      {0.25f, 70, 16, 110}, {0.50f, 176, 46, 120},
                                   {0.75f, 240, 110, 90},  {0.90f, 252, 180, 120}, {1.00f, 252, 250, 200}};
  int k = 0;
  while (k < 4 && v > stops[k + 1][0]) k++;
  float a = (v - stops[k][0]) / (stops[k + 1][0] - stops[k][0]);
  a = a < 0 ? 0 : a > 1 ? 1 : a;
  for (int c = 0; c < 3; c++) out[c] = (unsigned char)(stops[k][c + 1] + a * (stops[k + 1][c + 1] - stops[k][c + 1]) + 0.5f);
}

int thumb_write_png(srv_thumb *t, const char *path) {
  if (!t) return -1;
  if (t->n_frame > HOP / 4) { /* the song's last part, padded with silence */
    memset(t->frame + t->n_frame, 0, (size_t)(HOP - t->n_frame) * sizeof(float));
    column(t);
    t->n_frame = 0;
  }
  const int W = THUMB_W, H = THUMB_H;
  unsigned char *img = malloc((size_t)W * H * 3);
  if (!img) return -1;
  int64_t nc = t->n_cols;
  /* the loudest band of the song is white-hot; 72 dB below it is black */
  int mx = 0;
  for (int64_t i = 0; i < nc * N_BANDS; i++) mx = t->cols[i] > mx ? t->cols[i] : mx;
  float top = (float)mx / 2 + DB_FLOOR, range = 72;
  for (int x = 0; x < W; x++) {
    int64_t c0 = nc ? (int64_t)x * nc / W : 0, c1 = nc ? ((int64_t)x + 1) * nc / W : 0;
    if (nc && c1 <= c0) c1 = c0 + 1;
    for (int y = 0; y < H; y++) {
      float fb = (float)(H - 1 - y) * (N_BANDS - 1) / (float)(H - 1);
      int b0 = (int)fb;
      int b1 = b0 + 1 < N_BANDS ? b0 + 1 : b0;
      float fr = fb - (float)b0, acc = 0;
      for (int64_t c = c0; c < c1; c++) {
        const unsigned char *col = t->cols + c * N_BANDS;
        acc += (1 - fr) * col[b0] + fr * col[b1];
      }
      float db = nc ? acc / (float)(c1 - c0) / 2 + DB_FLOOR : DB_FLOOR;
      float v = (db - (top - range)) / range;
      colour(v < 0 ? 0 : v > 1 ? 1 : v, img + ((size_t)y * W + x) * 3);
    }
  }
  FILE *f = fopen(path, "wb");
  if (!f) {
    free(img);
    return -1;
  }
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  volatile int rc = -1;
  if (png && info && !setjmp(png_jmpbuf(png))) {
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < H; y++) png_write_row(png, img + (size_t)y * W * 3);
    png_write_end(png, NULL);
    rc = 0;
  }
  png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
  free(img);
  if (fclose(f) != 0) rc = -1;
  return rc;
}
