#include "context_tokens.hpp"

#include "context_unicode.hpp"
#include "jobs_settings.hpp"
#include "pg_guard.hpp"
#include "pg_values.hpp"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <fstream>
#include <memory>
#include <unordered_map>

namespace mcp::ext {

namespace tokens {

namespace {

struct CodePoint {
    uint32_t value;
    uint32_t offset;  // first byte in the text
};

// Invalid UTF-8 bytes become single code points of class 0 (as a regex engine skips them).
std::vector<CodePoint> decode(std::string_view text) {
    std::vector<CodePoint> out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
        unsigned char b = static_cast<unsigned char>(text[i]);
        uint32_t cp = b;
        size_t length = 1;
        if (b >= 0xC0 && b < 0xE0) {
            cp = b & 0x1F;
            length = 2;
        } else if (b >= 0xE0 && b < 0xF0) {
            cp = b & 0x0F;
            length = 3;
        } else if (b >= 0xF0 && b < 0xF8) {
            cp = b & 0x07;
            length = 4;
        } else if (b >= 0x80) {
            length = 0;
        }
        bool valid = length > 0 && i + length <= text.size();
        for (size_t k = 1; valid && k < length; ++k) {
            unsigned char c = static_cast<unsigned char>(text[i + k]);
            if ((c & 0xC0) != 0x80) valid = false;
            cp = (cp << 6) | (c & 0x3F);
        }
        if (!valid) {
            out.push_back({0xFFFFFFFFu, static_cast<uint32_t>(i)});
            ++i;
            continue;
        }
        out.push_back({cp, static_cast<uint32_t>(i)});
        i += length;
    }
    return out;
}

unsigned char unicode_class(uint32_t cp) {
    if (cp < 0x80) {
        if (cp >= 'A' && cp <= 'Z') return 1;
        if (cp >= 'a' && cp <= 'z') return 2;
        if (cp >= '0' && cp <= '9') return 5;
        return 0;
    }
    const UnicodeRange* begin = std::begin(kUnicodeRanges);
    const UnicodeRange* end = std::end(kUnicodeRanges);
    const UnicodeRange* found = std::upper_bound(
        begin, end, cp,
        [](uint32_t value, const UnicodeRange& range) { return value < range.first; });
    if (found == begin) return 0;
    --found;
    return cp <= found->last ? found->klass : 0;
}

bool is_space(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

// The o200k pattern, alternative by alternative, with the regex engine's leftmost-first,
// greedy-with-backtracking semantics:
//   1
//   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//   2
//   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//   3 \p{N}{1,3}     4  ?[^\s\p{L}\p{N}]+[\r\n/]*     5 \s*[\r\n]+     6 \s+(?!\S)     7 \s+
class Splitter {
  public:
    explicit Splitter(std::string_view text) : points_(decode(text)), n_(points_.size()) {
        klass_.reserve(n_);
        for (const CodePoint& p : points_)
            klass_.push_back(p.value == 0xFFFFFFFFu ? 0 : unicode_class(p.value));
    }

    std::vector<std::pair<size_t, size_t>> pieces() {
        std::vector<std::pair<size_t, size_t>> result;
        size_t i = 0;
        while (i < n_) {
            size_t end = match_at(i);
            if (end <= i) end = i + 1;
            result.emplace_back(i, end);
            i = end;
        }
        return result;
    }
    uint32_t offset(size_t index) const { return index < n_ ? points_[index].offset : UINT32_MAX; }

  private:
    uint32_t cp(size_t i) const { return i < n_ ? points_[i].value : 0; }
    bool letter(size_t i) const { return i < n_ && klass_[i] >= 1 && klass_[i] <= 3; }
    bool number(size_t i) const { return i < n_ && klass_[i] == 5; }
    bool upperish(size_t i) const {
        return i < n_ && (klass_[i] == 1 || klass_[i] == 3 || klass_[i] == 4);
    }
    bool lowerish(size_t i) const {
        return i < n_ && (klass_[i] == 2 || klass_[i] == 3 || klass_[i] == 4);
    }
    bool space(size_t i) const { return i < n_ && is_space(cp(i)); }
    bool prefix_ok(size_t i) const {
        return i < n_ && cp(i) != '\r' && cp(i) != '\n' && !letter(i) && !number(i);
    }
    bool symbol(size_t i) const { return i < n_ && !space(i) && !letter(i) && !number(i); }

    static uint32_t fold(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

    size_t contraction(size_t end) const {
        if (cp(end) != '\'') return end;
        static const char* const suffixes[] = {"s", "t", "re", "ve", "m", "ll", "d"};
        for (const char* suffix : suffixes) {
            size_t k = 0;
            while (suffix[k] && fold(cp(end + 1 + k)) == static_cast<uint32_t>(suffix[k]) &&
                   end + 1 + k < n_)
                ++k;
            if (suffix[k] == '\0') return end + 1 + k;
        }
        return end;
    }

    long alt1_body(size_t j) const {
        size_t run = 0;
        while (upperish(j + run)) ++run;
        for (size_t k = run + 1; k-- > 0;) {
            if (!lowerish(j + k)) continue;
            size_t end = j + k;
            while (lowerish(end)) ++end;
            return static_cast<long>(contraction(end));
        }
        return -1;
    }

    long alt2_body(size_t j) const {
        size_t end = j;
        while (upperish(end)) ++end;
        if (end == j) return -1;
        while (lowerish(end)) ++end;
        return static_cast<long>(contraction(end));
    }

    template <typename Body>
    long with_prefix(size_t i, Body body) const {
        if (prefix_ok(i)) {
            long end = body(i + 1);
            if (end >= 0) return end;
        }
        return body(i);
    }

    size_t match_at(size_t i) const {
        long end = with_prefix(i, [this](size_t j) { return alt1_body(j); });
        if (end >= 0) return static_cast<size_t>(end);
        end = with_prefix(i, [this](size_t j) { return alt2_body(j); });
        if (end >= 0) return static_cast<size_t>(end);
        if (number(i)) {
            size_t e = i + 1;
            while (e < n_ && e - i < 3 && number(e)) ++e;
            return e;
        }
        size_t start = cp(i) == ' ' && symbol(i + 1) ? i + 1 : i;
        if (symbol(start)) {
            size_t e = start;
            while (symbol(e)) ++e;
            while (e < n_ && (cp(e) == '\r' || cp(e) == '\n' || cp(e) == '/')) ++e;
            return e;
        }
        size_t run = 0;
        while (space(i + run)) ++run;
        if (run == 0) return i + 1;
        for (size_t p = i + run; p-- > i;)
            if (cp(p) == '\r' || cp(p) == '\n') return p + 1;
        if (i + run == n_) return n_;
        if (run >= 2) return i + run - 1;
        return i + run;
    }

    std::vector<CodePoint> points_;
    size_t n_;
    std::vector<unsigned char> klass_;
};

// ---------------------------------------------------------------------------------------
// Exact: byte-pair merges with the o200k ranks
// ---------------------------------------------------------------------------------------

struct RankTable {
    std::string path;
    std::unordered_map<std::string, int> ranks;
};

int decode_base64_char(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

std::string decode_base64(std::string_view text) {
    std::string out;
    int buffer = 0, bits = 0;
    for (char c : text) {
        int value = decode_base64_char(c);
        if (value < 0) continue;  // '=' padding
        buffer = (buffer << 6) | value;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buffer >> bits) & 0xFF);
        }
    }
    return out;
}

std::unique_ptr<RankTable> load_ranks(const std::string& path) {
    std::ifstream in(path);
    if (!in)
        throw PgError(ERRCODE_CONFIG_FILE_ERROR,
                      "could not read the token rank file \"" + path + "\"", {},
                      "Set mcp_analytics.token_rank_file to an o200k_base.tiktoken file the server "
                      "can read.");
    auto table = std::make_unique<RankTable>();
    table->path = path;
    table->ranks.reserve(210000);
    std::string line;
    while (std::getline(in, line)) {
        size_t space = line.find(' ');
        if (space == std::string::npos) continue;
        table->ranks.emplace(decode_base64(std::string_view(line).substr(0, space)),
                             std::atoi(line.c_str() + space + 1));
    }
    if (table->ranks.size() < 256)
        throw PgError(ERRCODE_CONFIG_FILE_ERROR, "\"" + path + "\" is not a tiktoken rank file",
                      "Expected lines \"<base64 token> <rank>\".");
    return table;
}

int merge_count(std::string_view piece, const RankTable& table) {
    if (piece.size() <= 1) return static_cast<int>(piece.size());
    if (table.ranks.count(std::string(piece))) return 1;
    std::vector<size_t> starts(piece.size() + 1);
    for (size_t i = 0; i < starts.size(); ++i) starts[i] = i;
    for (;;) {
        int best = INT_MAX;
        size_t best_index = 0;
        for (size_t i = 0; i + 2 < starts.size(); ++i) {
            auto found =
                table.ranks.find(std::string(piece.substr(starts[i], starts[i + 2] - starts[i])));
            if (found != table.ranks.end() && found->second < best) {
                best = found->second;
                best_index = i;
            }
        }
        if (best == INT_MAX) break;
        starts.erase(starts.begin() + static_cast<long>(best_index) + 1);
    }
    return static_cast<int>(starts.size() - 1);
}

std::unique_ptr<RankTable> cached_table;
std::string failed_path;  // a configured file that could not be loaded (warned once)

const RankTable* configured_table() {
    std::string path = jobs_settings::token_rank_file ? jobs_settings::token_rank_file : "";
    if (path.empty()) return nullptr;
    if (cached_table && cached_table->path == path) return cached_table.get();
    if (path == failed_path) return nullptr;
    try {
        cached_table = load_ranks(path);
        return cached_table.get();
    } catch (const PgError& error) {
        failed_path = path;
        std::string message = error.what();
        pg_call(
            [&] { ereport(WARNING, (errmsg("%s; token counts are estimated", message.c_str()))); });
        return nullptr;
    }
}

// Guesses the merges of one piece: short words are one token in o200k's 200k vocabulary,
// longer ones a token per few letters; symbols merge in pairs; digits come in threes already.
int estimate_piece(std::string_view piece) {
    size_t letters = 0, non_ascii = 0, symbols = 0;
    for (unsigned char c : piece) {
        if (std::isalpha(c))
            ++letters;
        else if (c >= 0xC0)
            ++non_ascii;
        else if (c < 0x80 && !std::isspace(c) && !std::isdigit(c))
            ++symbols;
    }
    if (non_ascii > 0)
        return static_cast<int>(std::max<size_t>(1, (non_ascii * 2 + 2) / 3 + letters / 6));
    if (letters > 0) {
        int word = letters <= 8 ? 1 : static_cast<int>((letters + 4) / 5);
        int punct = symbols > 1 ? static_cast<int>(symbols - 1) : 0;
        return word + punct;
    }
    if (symbols > 0) return static_cast<int>((symbols + 1) / 2);
    return 1;
}

}  // namespace

std::vector<std::string_view> split(std::string_view text) {
    Splitter splitter(text);
    std::vector<std::string_view> result;
    for (const auto& [first, last] : splitter.pieces()) {
        size_t from = splitter.offset(first);
        size_t to = last < text.size() && splitter.offset(last) != UINT32_MAX
                        ? splitter.offset(last)
                        : text.size();
        result.push_back(text.substr(from, to - from));
    }
    return result;
}

int count_with_rank_file(std::string_view text, const std::string& rank_file) {
    if (!cached_table || cached_table->path != rank_file) cached_table = load_ranks(rank_file);
    int total = 0;
    for (std::string_view piece : split(text)) total += merge_count(piece, *cached_table);
    return total;
}

int estimate(std::string_view text) {
    int total = 0;
    for (std::string_view piece : split(text)) total += estimate_piece(piece);
    return total;
}

}  // namespace tokens

int count_tokens(std::string_view text) {
    if (const tokens::RankTable* table = tokens::configured_table()) {
        int total = 0;
        for (std::string_view piece : tokens::split(text))
            total += tokens::merge_count(piece, *table);
        return total;
    }
    return tokens::estimate(text);
}

std::string token_counter_name() { return tokens::configured_table() ? "o200k" : "estimate"; }

}  // namespace mcp::ext

namespace {

Datum count_tokens_sql(FunctionCallInfo fcinfo) {
    std::string text = mcp::ext::text_argument(fcinfo, 0);
    return Int32GetDatum(mcp::ext::count_tokens(text));
}

Datum token_counter_sql(FunctionCallInfo) {
    return mcp::ext::text_datum(mcp::ext::token_counter_name());
}

}  // namespace

extern "C" {
PG_FUNCTION_INFO_V1(mcp_count_tokens);
PG_FUNCTION_INFO_V1(mcp_token_counter);

Datum mcp_count_tokens(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return count_tokens_sql(fcinfo); });
}
Datum mcp_token_counter(PG_FUNCTION_ARGS) {
    return mcp::ext::sql_entry([&] { return token_counter_sql(fcinfo); });
}
}
