// check_mat_v5: the size check a .mat file passes before libmatio reads it.
//
// libmatio believes the sizes a file states: an array that claims 2^31 × 2^31 elements makes it allocate (and zero)
// that much before it notices the data is not there. This walks the MATLAB 5 layout first (the 128-byte header, then
// tagged data elements, inflating compressed ones with a cap) and refuses any array whose dimensions promise more
// elements than the bytes that follow can hold. What passes costs libmatio at most a small multiple of the file's
// (inflated) size.
//
// Only what the dataset readers need is accepted: numeric, character, cell and struct arrays in a MATLAB 5 (v6/v7)
// file. A v7.3 (HDF5) or v4 file, a sparse array or an object is refused with the reason.
#pragma once

#include <string>
#include <string_view>

namespace dmx::io {

// Throws a dmx::Error of category Format naming `path`, the byte offset and the problem; returns when the layout is
// sound. `bytes` is the whole file.
void check_mat_v5(const std::string& path, std::string_view bytes);

}  // namespace dmx::io
