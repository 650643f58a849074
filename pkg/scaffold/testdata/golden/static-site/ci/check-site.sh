#!/bin/sh
# Checks a static site before it is published: index.html and 404.html exist, and every
# local href or src of every HTML page names a file of the site. Usage: check-site.sh DIR
set -eu
dir=${1:-site}
status=0
for page in index.html 404.html; do
  [ -f "$dir/$page" ] || { echo "check-site: $dir/$page is missing" >&2; status=1; }
done
for page in $(find "$dir" -name '*.html' | sort); do
  for ref in $(grep -o -E '(href|src)="[^"]*"' "$page" | sed -E 's/^(href|src)="([^"#?]*).*/\2/'); do
    case "$ref" in
      ''|http://*|https://*|mailto:*|//*) continue ;;
      /*) target="$dir$ref" ;;
      *) target="$(dirname "$page")/$ref" ;;
    esac
    case "$target" in */) target="${target}index.html" ;; esac
    [ -e "$target" ] || { echo "check-site: $page links to $ref, which the site does not have" >&2; status=1; }
  done
done
[ "$status" -eq 0 ] && echo "check-site: $dir is complete"
exit "$status"
