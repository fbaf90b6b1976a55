#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Print the project version: PACKAGE_VERSION in dkms.conf, its one home.
sed -n 's/^PACKAGE_VERSION="\([^"]*\)"$/\1/p' "$(dirname "$0")/../dkms.conf"
