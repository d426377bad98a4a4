#pragma once

// The protocol layer: envelope, payloads, codes and the JSON codec. Header-only; needs
// RapidJSON and nothing else (no networking headers).

#include "roomwire/protocol/codec.hpp"
#include "roomwire/protocol/codes.hpp"
#include "roomwire/protocol/envelope.hpp"
#include "roomwire/protocol/messages.hpp"
#include "roomwire/protocol/schema.hpp"
#include "roomwire/version.hpp"
