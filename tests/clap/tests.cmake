# src/clap: HeartCLAP parity on the MuQ-MuLan fixtures, the CLI (embed, tag) and its bad input.
set(HM_CFIX ${HM_SHARED_DIR}/fixtures-clap)
add_test(NAME clap.cli_parity COMMAND ${HM_CLI} parity ${HM_CFIX} --strict -t 2)
hm_cli_test(NAME clap.cli_embed_text_json STATUS 0 EXPECT "^\\{\"embedding\": \\[-0\\.003366[0-9]*, .*\\], \"dim\": 512\\}\n$"
            COMMAND ${HM_CLI} embed --clap ${HM_CFIX}/muq_mulan --text "sad slow guitar ballad" --json -t 2)
hm_cli_test(NAME clap.cli_embed_audio STATUS 0 EXPECT "^-?[0-9][-0-9.e]*\n-?[0-9][-0-9.e]*\n"
            COMMAND ${HM_CLI} embed --clap ${HM_CFIX}/muq_mulan --audio ${HM_SHARED_DIR}/fixtures-whisper/jfk.wav -t 2)
hm_cli_test(NAME clap.cli_tag STATUS 0 EXPECT "^-?[0-9.]+  [^\n]+\n-?[0-9.]+  [^\n]+\n-?[0-9.]+  [^\n]+\n$"
            COMMAND ${HM_CLI} tag --clap ${HM_CFIX}/muq_mulan ${HM_SHARED_DIR}/fixtures-whisper/jfk.wav --top-k 3 -t 2)
hm_cli_test(NAME clap.cli_tag_json STATUS 0 EXPECT "^\\[\\{\"tag\": \"[^\"]+\", \"score\": [-0-9.]+\\}\\]\n$"
            COMMAND ${HM_CLI} tag --clap ${HM_CFIX}/muq_mulan ${HM_SHARED_DIR}/fixtures-whisper/jfk.wav --top-k 1 --json)
hm_cli_test(NAME clap.cli_embed_empty_text EXPECT "the text is empty"
            COMMAND ${HM_CLI} embed --clap ${HM_CFIX}/muq_mulan --text=)
hm_cli_test(NAME clap.cli_embed_both EXPECT "exactly one of --audio FILE and --text TEXT"
            COMMAND ${HM_CLI} embed --clap ${HM_CFIX}/muq_mulan --text piano --audio x.wav)
hm_cli_test(NAME clap.cli_embed_missing_model EXPECT "CLAP model folder '.*nowhere' does not exist"
            COMMAND ${HM_CLI} embed --clap ${HM_CFIX}/nowhere --text piano)
hm_cli_test(NAME clap.cli_embed_not_a_model EXPECT "has no config.json"
            COMMAND ${HM_CLI} embed --clap ${HM_CFIX}/tokenizer --text piano)
hm_cli_test(NAME clap.cli_embed_not_audio EXPECT "not an audio file we can read"
            COMMAND ${HM_CLI} embed --clap ${HM_CFIX}/muq_mulan --audio ${HM_CFIX}/text_cases.json)
hm_cli_test(NAME clap.cli_tag_no_tags EXPECT "no tags \\(one per line\\)"
            COMMAND ${HM_CLI} tag --clap ${HM_CFIX}/muq_mulan ${HM_SHARED_DIR}/fixtures-whisper/jfk.wav --tags /dev/null)
hm_cli_test(NAME clap.cli_tag_no_audio EXPECT "--clap DIR and AUDIO are required"
            COMMAND ${HM_CLI} tag --clap ${HM_CFIX}/muq_mulan)
# search: a folder with one song, searched twice (the second run reads the index)
add_test(NAME clap.cli_search
         COMMAND bash -c "set -e; d=${CMAKE_CURRENT_BINARY_DIR}/clap_search; rm -rf $d; mkdir -p $d; cp ${HM_SHARED_DIR}/fixtures-whisper/jfk.wav $d/a.wav; \
${HM_CLI} search --clap ${HM_CFIX}/muq_mulan --index $d 'sad slow guitar ballad' -t 2 2>$d/err1 | grep -q 'a.wav'; grep -q '1 embedded now' $d/err1; \
test -f $d/.heartmula-clap-index.json; ${HM_CLI} search --clap ${HM_CFIX}/muq_mulan --index $d piano --json 2>$d/err2 | grep -q '\"file\"'; grep -q '0 embedded now' $d/err2")
hm_cli_test(NAME clap.cli_search_no_folder EXPECT "cannot open folder"
            COMMAND ${HM_CLI} search --clap ${HM_CFIX}/muq_mulan --index ${HM_CFIX}/nowhere piano)
# generate --ref-audio on a demo checkpoint: strength 0 = the codes without reference (bit-exact), strength 1 differs
add_test(NAME clap.cli_generate_ref
         COMMAND bash -c "set -e; d=${CMAKE_CURRENT_BINARY_DIR}/clap_ref; rm -rf $d; mkdir -p $d; \
${HM_CLI} make-checkpoint --flavor demo --out $d/ck --parts lm,tokenizer >/dev/null; \
g() { ${HM_CLI} generate --model-path $d/ck --version demo --lyrics 'la la la' --tags pop,piano --codes-only \
--max-audio-length-ms 2400 --seed 9 -t 2 -q --save-codes \"$@\"; }; \
g $d/none.npy; g $d/zero.npy --ref-audio ${HM_SHARED_DIR}/fixtures-whisper/jfk.wav --clap ${HM_CFIX}/muq_mulan --ref-strength 0; \
g $d/one.npy --ref-audio ${HM_SHARED_DIR}/fixtures-whisper/jfk.wav --clap ${HM_CFIX}/muq_mulan; \
cmp $d/none.npy $d/zero.npy; ! cmp -s $d/none.npy $d/one.npy; \
set +e; g $d/x.npy --ref-audio ${HM_SHARED_DIR}/fixtures-whisper/jfk.wav 2>$d/err1; r1=$?; \
g $d/x.npy --ref-audio ${HM_SHARED_DIR}/fixtures-whisper/jfk.wav --clap ${HM_CFIX}/muq_mulan --ref-strength 11 2>$d/err2; r2=$?; set -e; \
test $r1 = 1; grep -q \"reference audio needs a MuQ-MuLan model: none at '$d/ck/MuQ-MuLan-large'\" $d/err1; \
test $r2 = 1; grep -q 'ref_strength must be in \\[0, 10\\]' $d/err2; test ! -e $d/x.npy; \
ln -s ${HM_CFIX}/muq_mulan $d/ck/MuQ-MuLan-large; g $d/dflt.npy --ref-audio ${HM_SHARED_DIR}/fixtures-whisper/jfk.wav; \
cmp $d/one.npy $d/dflt.npy")
hm_cli_test(NAME clap.cli_generate_ref_strength_alone EXPECT "--ref-strength, --ref-seconds and --clap need --ref-audio FILE"
            COMMAND ${HM_CLI} generate --model-path x --lyrics la --tags pop --ref-strength 2)
hm_cli_test(NAME clap.cli_generate_ref_both EXPECT "--ref-audio and --ref-embedding: give at most one"
            COMMAND ${HM_CLI} generate --model-path x --lyrics la --tags pop --ref-audio a.wav --ref-embedding e.npy)
# convert (the reader itself: io.test_torch_bin): a file that is not a torch zip, an existing output
hm_cli_test(NAME clap.cli_convert_not_zip EXPECT "no zip end record: not a torch.save checkpoint"
            COMMAND ${HM_CLI} convert ${HM_CFIX}/muq_mulan/config.json -o ${CMAKE_CURRENT_BINARY_DIR}/never.safetensors)
hm_cli_test(NAME clap.cli_convert_exists EXPECT "already exists \\(use --overwrite\\)"
            COMMAND ${HM_CLI} convert ${HM_CFIX}/muq_mulan/config.json -o ${HM_CFIX}/muq_mulan/model.safetensors)
