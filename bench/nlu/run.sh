#!/usr/bin/env bash
# bench/nlu/run.sh: accuracy of the local NLU on public benchmarks, and its speed, measured
# with the commands a user has (`direkt nlu train` / `direkt nlu eval`) and bench_nlu_speed.
#
#   bench/nlu/run.sh [clinc|shop|sentiment-en|sentiment-ru|speed|all]     (default: all)
#
# Data: ../shared/data/nlu (DATA_DIR); never copied into the repo. Splits:
#   clinc        CLINC150 "full": train = train + oos_train, validation = val + oos_val;
#                reported on val (the test split is held out by the judges).
#   shop         the built-in shop intents (data/nlu/intents, en + ru): every 5th example held
#                out, the model trained on the rest without a validation file.
#   sentiment-en SemEval 2013-2016 task 4A: train = every file except 2016devtest and 2016test,
#                validation = 2016devtest, reported on 2016test (20,632 tweets).
#   sentiment-ru RuSentiTweet train CSV, split by tweet id (id mod 10: 0-1 test, 2 validation,
#                3-9 train); reported on the test part; all 5 labels.
# Each figure's JSON goes to OUT_DIR/nlu-<name>-<stamp>.json; a summary is printed.
# Needs python3 only to convert the SemEval TSV files and split RuSentiTweet.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-bench}
OUT_DIR=${OUT_DIR:-$ROOT/bench/out}
DATA_DIR=${DATA_DIR:-$(cd "$ROOT/.." && pwd)/shared/data/nlu}
SPEED_SECONDS=${SPEED_SECONDS:-5}
what=${1:-all}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT_DIR"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

if [ -z "${SKIP_BUILD:-}" ]; then
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD_DIR" -j2 --target direkt bench_nlu_speed >/dev/null
fi
DIREKT=$BUILD_DIR/direkt
export DATABASE_URL="sqlite:$TMP/bench.db"

# run NAME TRAIN_ARGS… -- EVAL_FILE: trains, evaluates, keeps the JSON, prints the figures.
run() {
    local name=$1 task=$2 evalfile=$3
    shift 3
    local model=$TMP/$name.model t0 t1
    t0=$(date +%s%N)
    "$DIREKT" nlu train "$@" --task "$task" --out "$model" 2>"$TMP/$name.train.log" |
        tee "$TMP/$name.train.txt"
    t1=$(date +%s%N)
    "$DIREKT" nlu eval "$evalfile" --task "$task" --model "$model" --json >"$TMP/$name.json"
    local size
    size=$(stat -c %s "$model")
    jq --arg cmd "direkt nlu train $* --task $task" --argjson train_ms $(((t1 - t0) / 1000000)) \
        --argjson file_bytes "$size" --arg name "$name" \
        '{name: $name, command: $cmd, train_wall_ms: $train_ms, model_file_bytes: $file_bytes,
          n, accuracy, inscope_accuracy, macro_f1, macro_recall, oos_recall, us_per_msg}' \
        "$TMP/$name.json" | tee "$OUT_DIR/nlu-$name-$stamp.json"
}

clinc() {
    local f=$DATA_DIR/clinc150/clinc150_full_trainval.json
    run clinc intent "$f#val+oos_val" "$f#train+oos_train" --val "$f#val+oos_val"
}

sentiment_en() {
    python3 - "$DATA_DIR/sentiment-en" "$TMP" <<'PY'
import json, sys, os, glob
src, out = sys.argv[1], sys.argv[2]
def conv(files, dst):
    with open(dst, "w", encoding="utf-8") as o:
        for f in files:
            for line in open(f, encoding="utf-8"):
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 3 and parts[1] in ("positive", "negative", "neutral"):
                    o.write(json.dumps({"text": "\t".join(parts[2:]), "label": parts[1]}, ensure_ascii=False) + "\n")
allf = sorted(glob.glob(os.path.join(src, "twitter-*-A.tsv")))
held = {"twitter-2016devtest-A.tsv", "twitter-2016test-A.tsv"}
conv([f for f in allf if os.path.basename(f) not in held], out + "/en-train.jsonl")
conv([os.path.join(src, "twitter-2016devtest-A.tsv")], out + "/en-val.jsonl")
conv([os.path.join(src, "twitter-2016test-A.tsv")], out + "/en-test.jsonl")
PY
    run sentiment-en sentiment "$TMP/en-test.jsonl" "$TMP/en-train.jsonl" --val "$TMP/en-val.jsonl"
    # the lexicons alone (the shipped default, no trained model)
    "$DIREKT" nlu eval "$TMP/en-test.jsonl" --task sentiment --json |
        jq '{name: "sentiment-en-lexicon", n, accuracy, macro_f1, macro_recall, us_per_msg}' |
        tee "$OUT_DIR/nlu-sentiment-en-lexicon-$stamp.json"
}

sentiment_ru() {
    python3 - "$DATA_DIR/sentiment-ru/rusentitweet_train.csv" "$TMP" <<'PY'
import csv, json, sys
src, out = sys.argv[1], sys.argv[2]
files = {k: open(f"{out}/ru-{k}.jsonl", "w", encoding="utf-8") for k in ("train", "val", "test")}
for row in csv.DictReader(open(src, encoding="utf-8", newline="")):
    d = int(row["id"]) % 10
    k = "test" if d <= 1 else ("val" if d == 2 else "train")
    files[k].write(json.dumps({"text": row["text"], "label": row["label"]}, ensure_ascii=False) + "\n")
PY
    run sentiment-ru sentiment "$TMP/ru-test.jsonl" "$TMP/ru-train.jsonl" --val "$TMP/ru-val.jsonl"
}

shop() {
    # the built-in examples (ours, in the repo): every 5th line of each file held out
    rm -f "$TMP/shop-test.jsonl" "$TMP/shop-train.jsonl"
    for lang in en ru; do
        awk -v out="$TMP/shop" 'NR % 5 == 0 { print >> (out "-test.jsonl"); next }
                                 { print >> (out "-train.jsonl") }' "$ROOT/data/nlu/intents/$lang.jsonl"
    done
    run shop intent "$TMP/shop-test.jsonl" "$TMP/shop-train.jsonl"
}

speed() {
    "$BUILD_DIR/bench_nlu_speed" "$SPEED_SECONDS" | tee "$OUT_DIR/nlu-speed-$stamp.json"
}

case "$what" in
clinc) clinc ;;
shop) shop ;;
sentiment-en) sentiment_en ;;
sentiment-ru) sentiment_ru ;;
speed) speed ;;
all)
    clinc
    shop
    sentiment_en
    sentiment_ru
    speed
    ;;
*)
    echo "usage: bench/nlu/run.sh [clinc|shop|sentiment-en|sentiment-ru|speed|all]" >&2
    exit 2
    ;;
esac
