#!/usr/bin/env bash
# Copies the front-end packages pinned in package-lock.json into tracecenter/static/vendor/, where they are committed,
# so that serving TraceCenter never needs npm. Run it (`make static-vendor`) after changing a version in package.json
# and `npm install`; commit what it changes.
#
# What is copied, and no more: the U.S. Web Design System's compiled CSS and JavaScript, every font and image its CSS
# refers to (read from the CSS itself, so an upgrade that adds or drops one stays right), its icon sprite, and htmx;
# each package with its license and a VERSION file. The files are copied unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --no-audit --no-fund --loglevel=error

version() { node -p "require('./node_modules/$1/package.json').version"; }

USWDS_SRC=node_modules/@uswds/uswds/dist
USWDS_DST=tracecenter/static/vendor/uswds
HTMX_DST=tracecenter/static/vendor/htmx

rm -rf "$USWDS_DST" "$HTMX_DST"
mkdir -p "$USWDS_DST/css" "$USWDS_DST/js" "$HTMX_DST"

cp "$USWDS_SRC/css/uswds.min.css" "$USWDS_DST/css/"
cp "$USWDS_SRC/js/uswds.min.js" "$USWDS_SRC/js/uswds-init.min.js" "$USWDS_DST/js/"
# Fonts and images named by url(../...) in the CSS. The hero image belongs to a component TraceCenter does not use.
grep -o 'url(\.\./[^)]*)' "$USWDS_SRC/css/uswds.min.css" | sed -e 's/^url(\.\.\///' -e 's/)$//' | sort -u \
  | grep -v '^img/hero\.jpg$' \
  | while read -r asset; do
      mkdir -p "$USWDS_DST/$(dirname "$asset")"
      cp "$USWDS_SRC/$asset" "$USWDS_DST/$asset"
    done
# The icons of <svg class="usa-icon"><use href="...sprite.svg#name">.
mkdir -p "$USWDS_DST/img"
cp "$USWDS_SRC/img/sprite.svg" "$USWDS_DST/img/"
cp node_modules/@uswds/uswds/LICENSE.md "$USWDS_DST/LICENSE.md"
echo "@uswds/uswds $(version @uswds/uswds)" >"$USWDS_DST/VERSION"

cp node_modules/htmx.org/dist/htmx.min.js "$HTMX_DST/"
cp node_modules/htmx.org/LICENSE "$HTMX_DST/LICENSE"
echo "htmx.org $(version htmx.org)" >"$HTMX_DST/VERSION"

echo "Vendored: $(cat "$USWDS_DST/VERSION"), $(cat "$HTMX_DST/VERSION") ($(du -sh tracecenter/static/vendor | cut -f1))"
