"""The Python binding (bindings/python/heartmula) over libheartmula.so.

argv: SHARED_DIR CLI TMPDIR. Run by tests/python/run.sh (which finds a python3 with numpy and points
HEARTMULA_LIBRARY at the built library)."""
import os
import subprocess
import sys
import unittest
import wave

import numpy as np

import heartmula

SHARED, CLI, TMP = sys.argv[1:4]
FIX = os.path.join(SHARED, "fixtures")
WFIX = os.path.join(SHARED, "fixtures-whisper")
CKPT = os.path.join(TMP, "ck")


class Binding(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        subprocess.run([CLI, "make-checkpoint", "--flavor", "demo", "--out", CKPT, "--seed", "2", "--force"],
                       check=True, stdout=subprocess.DEVNULL)

    def test_version(self):
        out = subprocess.run([CLI, "--version"], check=True, capture_output=True, text=True).stdout
        self.assertEqual(out.strip(), "heartmula " + heartmula.version())

    def test_engine_generate_and_codec_decode(self):
        seen = set()
        with heartmula.Engine(CKPT, version="demo", n_threads=2) as e:
            song = e.generate("[verse]\nla la la\n", "pop,piano", seed=3, max_audio_ms=2000, codec_steps=2,
                              progress=lambda stage, done, total: seen.add(stage))
            self.assertEqual(song.codes.dtype, np.int32)
            self.assertEqual(song.codes.shape[0], 8)
            self.assertGreater(song.codes.shape[1], 0)
            self.assertEqual(song.sample_rate, 48000)
            self.assertEqual(song.audio.dtype, np.float32)
            self.assertEqual(song.audio.shape[0], 2)
            self.assertTrue(np.isfinite(song.audio).all())
            self.assertTrue({"lm", "codec"} <= seen)
            # the same job, codes only: the same codes
            codes_only = e.generate("[verse]\nla la la\n", "pop,piano", seed=3, max_audio_ms=2000, audio=False)
            self.assertIsNone(codes_only.audio)
            np.testing.assert_array_equal(codes_only.codes, song.codes)
            # a file written while decoded holds as many samples
            out = os.path.join(TMP, "song.wav")
            e.generate("[verse]\nla la la\n", "pop,piano", seed=3, max_audio_ms=2000, codec_steps=2, output_path=out,
                       overwrite=True, wav_float=True, stream=True)
            with open(out, "rb") as f:
                self.assertGreater(len(f.read()), song.audio.shape[1] * 2 * 4)
            # abort, and an exception raised in a callback, stop the job
            with self.assertRaises(heartmula.HeartMuLaError) as cm:
                e.generate("[verse]\nla\n", "pop", max_audio_ms=2000, abort=lambda: True)
            self.assertEqual(cm.exception.status, heartmula.ABORTED)

            def boom(stage, done, total):
                raise KeyError("from the callback")
            with self.assertRaises(KeyError):
                e.generate("[verse]\nla\n", "pop", max_audio_ms=2000, progress=boom)
            with self.assertRaises(heartmula.HeartMuLaError) as cm:
                e.generate("   ", "pop")
            self.assertIn("lyrics", str(cm.exception))
        # the codec alone with the job's seed reproduces the job's audio, bit for bit
        with heartmula.Codec(os.path.join(CKPT, "HeartCodec-oss"), n_threads=2) as c:
            self.assertEqual((c.sample_rate, c.n_codebooks), (48000, 8))
            wav = c.decode(song.codes, steps=2, seed=3)
            np.testing.assert_array_equal(wav, song.audio)
            with self.assertRaises(ValueError):
                c.decode(song.codes[:7])
        # the one-call form
        s2 = heartmula.generate(CKPT, "[verse]\nla la la\n", "pop,piano", version="demo", seed=3, max_audio_ms=2000,
                                codec_steps=2)
        np.testing.assert_array_equal(s2.audio, song.audio)

    def test_codec_parity_with_replayed_noise(self):
        codes = np.load(os.path.join(FIX, "codec_detok_short_codes.npy"))
        ref = np.load(os.path.join(FIX, "codec_detok_short_wav.npy"))
        draws = iter([np.load(os.path.join(FIX, "codec_detok_short_randn%d.npy" % i)) for i in range(2)])
        with heartmula.Codec(os.path.join(FIX, "heartcodec"), n_threads=2) as c:
            wav = c.decode(codes, noise=lambda n: next(draws))
        self.assertEqual(wav.shape, ref.shape)
        mr = np.abs(ref).max()
        self.assertLess(np.abs(wav - ref).max() / mr, 1e-2)
        self.assertLessEqual(int((np.abs(wav - ref) > 1e-4 * mr).sum()), ref.size // 1000)

    def test_whisper(self):
        import json
        with open(os.path.join(WFIX, "jfk_greedy.json")) as f:
            want = json.load(f)["notimestamps"]
        with heartmula.Whisper(WFIX) as w:
            self.assertEqual(w.sample_rate, 16000)
            t = w.transcribe_file(os.path.join(WFIX, "jfk.wav"), max_new_tokens=30, n_threads=2, format="json")
            self.assertEqual(t.language, "en")
            self.assertEqual(len(t.segments), 1)
            self.assertEqual(t.segments[0].tokens.tolist(), want["tokens"])
            self.assertEqual(t.segments[0].text, want["text"])
            self.assertEqual(json.loads(t.formatted)["text"], t.text)
            # the same audio as a numpy array (16-bit mono 16 kHz file: no resampling)
            with wave.open(os.path.join(WFIX, "jfk.wav")) as f:
                pcm = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
            t2 = w.transcribe(pcm, max_new_tokens=30, n_threads=2)
            self.assertEqual(t2.segments[0].tokens.tolist(), want["tokens"])
            with self.assertRaises(heartmula.HeartMuLaError):
                w.transcribe_file(os.path.join(TMP, "missing.wav"))
        with self.assertRaises(heartmula.HeartMuLaError) as cm:
            heartmula.Whisper(os.path.join(TMP, "no-model"))
        self.assertIn("no-model", str(cm.exception))


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
