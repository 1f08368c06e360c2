#!/usr/bin/env bash
# Writes .data/run.env: KEY='value' lines that are both valid shell (`. .data/run.env`) and
# valid dotenv (docker compose --env-file, python-dotenv, Node's --env-file). Single quotes
# keep `&`, `?`, `$`, spaces and backquotes literal in both; a value holding a single quote
# or a line break has no spelling common to both, so it is refused.
#
#   . run_env.sh; write_run_env FILE 'comment' KEY VALUE [KEY VALUE ...]

write_run_env() {
    local file=$1 comment=$2
    shift 2
    local body="# $comment"$'\n' key value
    while [ $# -ge 2 ]; do
        key=$1 value=$2
        shift 2
        if ! [[ $key =~ ^[A-Z_][A-Z0-9_]*$ ]]; then
            echo "write_run_env: bad name '$key'" >&2; return 1
        fi
        if [[ $value == *"'"* || $value == *$'\n'* || $value == *$'\r'* ]]; then
            echo "write_run_env: $key holds a quote or a line break" >&2; return 1
        fi
        body+="$key='$value'"$'\n'
    done
    [ $# -eq 0 ] || { echo "write_run_env: $1 has no value" >&2; return 1; }
    ( umask 077; printf '%s' "$body" >"$file.tmp" ) && mv -f "$file.tmp" "$file"
}
