/* The built-in tag vocabulary of `heartmula tag` (docs/cli.md lists it): the
 * kinds of tags HeartMuLa's prompt takes (upstream's README and examples use
 * comma-separated lowercase tags such as "piano,happy,wedding,synthesizer,
 * romantic"), grouped as genre, mood, instrument, scene and vocal. Each is
 * embedded as its plain text. */
#include "clap_tags.h"

const clap_tag clap_builtin_tags[] = {
  /* genre */
  {"pop", "genre"}, {"rock", "genre"}, {"jazz", "genre"}, {"classical", "genre"}, {"hip hop", "genre"},
  {"rap", "genre"}, {"electronic", "genre"}, {"edm", "genre"}, {"dance", "genre"}, {"folk", "genre"},
  {"country", "genre"}, {"r&b", "genre"}, {"soul", "genre"}, {"funk", "genre"}, {"blues", "genre"},
  {"metal", "genre"}, {"punk", "genre"}, {"indie", "genre"}, {"reggae", "genre"}, {"latin", "genre"},
  {"ambient", "genre"}, {"lo-fi", "genre"}, {"k-pop", "genre"}, {"c-pop", "genre"}, {"ballad", "genre"},
  {"soundtrack", "genre"},
  /* mood */
  {"happy", "mood"}, {"sad", "mood"}, {"romantic", "mood"}, {"energetic", "mood"}, {"calm", "mood"},
  {"relaxing", "mood"}, {"melancholic", "mood"}, {"uplifting", "mood"}, {"hopeful", "mood"}, {"dark", "mood"},
  {"peaceful", "mood"}, {"angry", "mood"}, {"nostalgic", "mood"}, {"dreamy", "mood"}, {"epic", "mood"},
  {"emotional", "mood"}, {"warm", "mood"},
  /* instrument */
  {"piano", "instrument"}, {"acoustic guitar", "instrument"}, {"electric guitar", "instrument"},
  {"guitar", "instrument"}, {"drums", "instrument"}, {"bass", "instrument"}, {"synthesizer", "instrument"},
  {"violin", "instrument"}, {"cello", "instrument"}, {"strings", "instrument"}, {"orchestra", "instrument"},
  {"saxophone", "instrument"}, {"trumpet", "instrument"}, {"flute", "instrument"}, {"erhu", "instrument"},
  {"guzheng", "instrument"},
  /* scene */
  {"wedding", "scene"}, {"party", "scene"}, {"workout", "scene"}, {"study", "scene"}, {"sleep", "scene"},
  {"travel", "scene"}, {"driving", "scene"}, {"cafe", "scene"}, {"club", "scene"}, {"beach", "scene"},
  {"rainy day", "scene"}, {"night", "scene"}, {"christmas", "scene"}, {"film", "scene"}, {"game", "scene"},
  /* vocal */
  {"male vocals", "vocal"}, {"female vocals", "vocal"}, {"instrumental", "vocal"}, {"choir", "vocal"},
  {"duet", "vocal"},
};
const int clap_n_builtin_tags = (int)(sizeof clap_builtin_tags / sizeof clap_builtin_tags[0]);
