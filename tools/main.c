#include "cli.h"
#include <string.h>

/* abortable: the command passes cli_abort_requested to the library, so SIGINT /
 * SIGTERM stop it cleanly; the others keep the default action (stop at once). */
typedef struct { const char *name; int (*fn)(int, char **); const char *help; bool abortable; } command;

static const command commands[] = {
  {"generate", cmd_generate, "lyrics + tags -> song file (LM + codec)", true},
  {"decode", cmd_decode, "audio codes (.npy) -> song file (codec)", true},
  {"transcribe", cmd_transcribe, "audio file -> lyrics (HeartTranscriptor / Whisper)", true},
  {"embed", cmd_embed, "audio file or text -> HeartCLAP (MuQ-MuLan) 512-d embedding", false},
  {"tag", cmd_tag, "audio file -> ranked tags (HeartCLAP zero-shot)", false},
  {"search", cmd_search, "text -> songs of a folder (HeartCLAP, cached index)", false},
  {"tokenize", cmd_tokenize, "text -> token ids with a tokenizer.json (or --decode)", false},
  {"parity", cmd_parity, "run the reference-fixture cases of a fixture folder", false},
  {"bench", cmd_bench, "speed benchmarks (LM frame step, codec, transcription)", false},
  {"make-checkpoint", cmd_make_checkpoint, "write a random checkpoint in the published layout", false},
  {"convert", cmd_convert, "PyTorch pytorch_model.bin -> safetensors (tensors only, nothing executed)", false},
  {"quantize", cmd_quantize, "convert a checkpoint to bf16 / q8_0 / q4_0", false},
  {"info", cmd_info, "describe a checkpoint folder and this machine", false},
  {"serve", cmd_serve, "web UI + REST API + WebSocket progress over the engine", false},
};

static void usage(FILE *f) {
  fprintf(f, "heartmula %s — HeartMuLa music generation in C\n\nusage: heartmula <command> [options]\n\n",
          HM_VERSION_STRING);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].help);
  fprintf(f, "\n'heartmula <command> --help' shows a command's options. Docs: docs/cli.md\n");
}

int main(int argc, char **argv) {
  if (argc < 2) { usage(stderr); return 2; }
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) { usage(stdout); return 0; }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) { printf("heartmula %s\n", HM_VERSION_STRING); return 0; }
  hm_log_set(cli_log_hook, NULL);
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name)) {
      if (commands[i].abortable) cli_signals_install();
      return cli_finish(commands[i].fn(argc - 1, argv + 1));
    }
  fprintf(stderr, "heartmula: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
