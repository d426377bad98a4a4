#include "wire_client.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <random>
#include <stdexcept>
#include <system_error>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl.hpp>
#include <asio/write.hpp>

namespace rwtest {

using clock_type = std::chrono::steady_clock;

struct wire_client::io {
  asio::io_context ctx;
  asio::ssl::context ssl{asio::ssl::context::tls_client};
  asio::ssl::stream<asio::ip::tcp::socket> stream{ctx, ssl};
  bool tls = false;

  asio::ip::tcp::socket& sock() { return stream.next_layer(); }

  // Runs one asynchronous operation to completion or until the deadline (then cancels it).
  template <class Start>
  bool run(Start&& start, clock_type::time_point deadline) {
    bool done = false;
    ctx.restart();
    start(done);
    ctx.run_until(deadline);
    if (!done) {
      std::error_code ignored;
      sock().cancel(ignored);
      ctx.restart();
      ctx.run();
      return false;
    }
    return true;
  }

  bool connect(const endpoint_options& at, int receive_buffer, clock_type::time_point deadline) {
    std::error_code ec;
    const auto address = asio::ip::make_address(at.host, ec);
    if (ec) return false;
    const asio::ip::tcp::endpoint ep(address, at.port);
    sock().open(ep.protocol(), ec);
    if (ec) return false;
    if (receive_buffer > 0)
      sock().set_option(asio::socket_base::receive_buffer_size(receive_buffer));
    std::error_code result = asio::error::timed_out;
    run(
        [&](bool& done) {
          sock().async_connect(ep, [&](const std::error_code& e) {
            result = e;
            done = true;
          });
        },
        deadline);
    if (result) return false;
    tls = at.tls;
    if (tls) {
      ssl.set_verify_mode(asio::ssl::verify_none);
      result = asio::error::timed_out;
      run(
          [&](bool& done) {
            stream.async_handshake(asio::ssl::stream_base::client, [&](const std::error_code& e) {
              result = e;
              done = true;
            });
          },
          deadline);
      if (result) return false;
    }
    return true;
  }

  std::size_t read_some(char* buffer, std::size_t size, clock_type::time_point deadline,
                        std::error_code& ec) {
    std::size_t n = 0;
    ec = asio::error::timed_out;
    run(
        [&](bool& done) {
          auto handler = [&](const std::error_code& e, std::size_t got) {
            ec = e;
            n = got;
            done = true;
          };
          if (tls) {
            stream.async_read_some(asio::buffer(buffer, size), handler);
          } else {
            sock().async_read_some(asio::buffer(buffer, size), handler);
          }
        },
        deadline);
    return n;
  }

  bool write(std::string_view data, clock_type::time_point deadline) {
    std::error_code ec = asio::error::timed_out;
    run(
        [&](bool& done) {
          auto handler = [&](const std::error_code& e, std::size_t) {
            ec = e;
            done = true;
          };
          if (tls) {
            asio::async_write(stream, asio::buffer(data.data(), data.size()), handler);
          } else {
            asio::async_write(sock(), asio::buffer(data.data(), data.size()), handler);
          }
        },
        deadline);
    return !ec;
  }
};

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Parses "HTTP/1.1 200 OK\r\nName: value\r\n...\r\n\r\n" (the head only).
void parse_head(std::string_view head, http_response& out) {
  const auto line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  const auto sp = status_line.find(' ');
  if (sp != std::string_view::npos)
    out.status = std::atoi(std::string(status_line.substr(sp + 1, 3)).c_str());
  std::string_view rest =
      line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);
  while (!rest.empty()) {
    const auto end = rest.find("\r\n");
    const std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    out.headers[lower(std::string(line.substr(0, colon)))] = std::string(value);
  }
}

std::string request_text(std::string_view method, std::string_view target,
                         const endpoint_options& at,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         bool upgrade) {
  std::string r;
  r += method;
  r += ' ';
  r += target;
  r += " HTTP/1.1\r\nHost: " + at.host + ":" + std::to_string(at.port) + "\r\n";
  if (upgrade) {
    r += "Upgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  } else {
    r += "Connection: close\r\n";
  }
  for (const auto& [name, value] : headers) r += name + ": " + value + "\r\n";
  r += "\r\n";
  return r;
}

}  // namespace

http_response http_request(const endpoint_options& at, std::string_view method,
                           std::string_view target,
                           const std::vector<std::pair<std::string, std::string>>& headers,
                           millis timeout) {
  const auto deadline = clock_type::now() + timeout;
  http_response out;
  // One connection, read to its end (the server closes after answering).
  asio::io_context ctx;
  asio::ssl::context ssl(asio::ssl::context::tls_client);
  ssl.set_verify_mode(asio::ssl::verify_none);
  asio::ssl::stream<asio::ip::tcp::socket> stream(ctx, ssl);
  const auto run = [&](auto&& start) {
    bool done = false;
    ctx.restart();
    start(done);
    ctx.run_until(deadline);
    if (!done) {
      std::error_code ignored;
      stream.next_layer().cancel(ignored);
      ctx.restart();
      ctx.run();
    }
    return done;
  };
  std::error_code ec;
  const asio::ip::tcp::endpoint ep(asio::ip::make_address(at.host), at.port);
  ec = asio::error::timed_out;
  run([&](bool& done) {
    stream.next_layer().async_connect(ep, [&](const std::error_code& e) {
      ec = e;
      done = true;
    });
  });
  if (ec) return out;
  if (at.tls) {
    ec = asio::error::timed_out;
    run([&](bool& done) {
      stream.async_handshake(asio::ssl::stream_base::client, [&](const std::error_code& e) {
        ec = e;
        done = true;
      });
    });
    if (ec) return out;
  }
  const std::string request = request_text(method, target, at, headers, false);
  ec = asio::error::timed_out;
  run([&](bool& done) {
    auto handler = [&](const std::error_code& e, std::size_t) {
      ec = e;
      done = true;
    };
    if (at.tls) {
      asio::async_write(stream, asio::buffer(request), handler);
    } else {
      asio::async_write(stream.next_layer(), asio::buffer(request), handler);
    }
  });
  if (ec) return out;
  std::string data;
  char buffer[8192];
  for (;;) {
    std::size_t n = 0;
    ec = asio::error::timed_out;
    run([&](bool& done) {
      auto handler = [&](const std::error_code& e, std::size_t got) {
        ec = e;
        n = got;
        done = true;
      };
      if (at.tls) {
        stream.async_read_some(asio::buffer(buffer), handler);
      } else {
        stream.next_layer().async_read_some(asio::buffer(buffer), handler);
      }
    });
    data.append(buffer, n);
    if (ec) break;
  }
  const auto head_end = data.find("\r\n\r\n");
  if (head_end == std::string::npos) return out;
  parse_head(std::string_view(data).substr(0, head_end), out);
  out.body = data.substr(head_end + 4);
  return out;
}

wire_client::wire_client(endpoint_options at) : io_(std::make_unique<io>()), at_(std::move(at)) {}
wire_client::~wire_client() {
  // As a browser does: end TLS with close_notify (briefly), then the TCP connection.
  if (io_->tls && io_->sock().is_open()) {
    io_->run(
        [&](bool& done) {
          io_->stream.async_shutdown([&](const std::error_code&) { done = true; });
        },
        clock_type::now() + 500ms);
  }
}

std::size_t wire_client::received_unread() const {
  std::error_code ec;
  const std::size_t queued = io_->sock().available(ec);
  return (ec ? 0 : queued) + in_.size();
}

bool wire_client::connect_tcp(millis timeout) {
  return io_->connect(at_, receive_buffer_, clock_type::now() + timeout);
}

std::string wire_client::upgrade_request(
    std::string_view target,
    const std::vector<std::pair<std::string, std::string>>& headers) const {
  return request_text("GET", target, at_, headers, true);
}

bool wire_client::wait_eof(millis timeout) {
  const auto deadline = clock_type::now() + timeout;
  while (!eof_ && clock_type::now() < deadline) {
    read_more(deadline);
  }
  return eof_;
}

int wire_client::connect(std::string_view target,
                         const std::vector<std::pair<std::string, std::string>>& headers,
                         millis timeout) {
  const auto deadline = clock_type::now() + timeout;
  response_ = http_response{};
  if (!io_->connect(at_, receive_buffer_, deadline)) return 0;
  if (!io_->write(request_text("GET", target, at_, headers, true), deadline)) return 0;
  std::size_t head_end = std::string::npos;
  while ((head_end = in_.find("\r\n\r\n")) == std::string::npos) {
    if (!read_more(deadline)) return 0;
  }
  parse_head(std::string_view(in_).substr(0, head_end), response_);
  in_.erase(0, head_end + 4);
  if (response_.status != 101) {
    const auto length = response_.headers.find("content-length");
    const std::size_t want = length == response_.headers.end() ? 0 : std::stoul(length->second);
    while (in_.size() < want && read_more(deadline)) {
    }
    response_.body = in_.substr(0, want);
    in_.clear();
  }
  return response_.status;
}

bool wire_client::read_more(clock_type::time_point deadline) {
  if (eof_) return false;
  char buffer[16384];
  std::error_code ec;
  const std::size_t n = io_->read_some(buffer, sizeof buffer, deadline, ec);
  in_.append(buffer, n);
  if (ec && ec != asio::error::timed_out && ec != asio::error::operation_aborted) eof_ = true;
  return n > 0;
}

bool wire_client::send_raw(std::string_view bytes) {
  return io_->write(bytes, clock_type::now() + default_timeout);
}

bool wire_client::send_frame_prefix(int opcode, std::uint64_t announced_length,
                                    std::string_view partial, bool fin, bool masked) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | (opcode & 0x0f)));
  const std::uint8_t mask_bit = masked ? 0x80 : 0;
  if (announced_length < 126) {
    f.push_back(static_cast<char>(mask_bit | announced_length));
  } else if (announced_length <= 0xffff) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>((announced_length >> 8) & 0xff));
    f.push_back(static_cast<char>(announced_length & 0xff));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      f.push_back(static_cast<char>((announced_length >> shift) & 0xff));
    }
  }
  if (masked) f.append(4, '\0');  // a zero key: more of the payload may follow via send_raw()
  f.append(partial);
  return send_raw(f);
}

void wire_client::send_frame(int opcode, std::string_view payload, bool fin, bool masked,
                             int rsv_bits) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80 : 0) | ((rsv_bits & 7) << 4) | (opcode & 0x0f)));
  const std::uint8_t mask_bit = masked ? 0x80 : 0;
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(mask_bit | payload.size()));
  } else if (payload.size() <= 0xffff) {
    f.push_back(static_cast<char>(mask_bit | 126));
    f.push_back(static_cast<char>((payload.size() >> 8) & 0xff));
    f.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    f.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      f.push_back(static_cast<char>((static_cast<std::uint64_t>(payload.size()) >> shift) & 0xff));
    }
  }
  if (masked) {
    static thread_local std::mt19937 rng(12345);
    char key[4];
    for (char& k : key) k = static_cast<char>(rng() & 0xff);
    f.append(key, 4);
    for (std::size_t i = 0; i < payload.size(); ++i)
      f.push_back(static_cast<char>(payload[i] ^ key[i % 4]));
  } else {
    f.append(payload);
  }
  send_raw(f);
}

void wire_client::send_text(std::string_view text) { send_frame(0x1, text); }
void wire_client::send_binary(std::string_view data) { send_frame(0x2, data); }

void wire_client::send_close(int code, std::string_view reason) {
  if (close_sent_) return;
  close_sent_ = true;
  std::string payload;
  payload.push_back(static_cast<char>((code >> 8) & 0xff));
  payload.push_back(static_cast<char>(code & 0xff));
  payload.append(reason);
  send_frame(0x8, payload);
}

std::optional<ws_frame> wire_client::parse_frame() {
  if (in_.size() < 2) return std::nullopt;
  const auto b = [&](std::size_t i) { return static_cast<std::uint8_t>(in_[i]); };
  ws_frame f;
  f.fin = (b(0) & 0x80) != 0;
  f.opcode = b(0) & 0x0f;
  const bool masked = (b(1) & 0x80) != 0;
  std::uint64_t length = b(1) & 0x7f;
  std::size_t at = 2;
  if (length == 126) {
    if (in_.size() < 4) return std::nullopt;
    length = (std::uint64_t{b(2)} << 8) | b(3);
    at = 4;
  } else if (length == 127) {
    if (in_.size() < 10) return std::nullopt;
    length = 0;
    for (std::size_t i = 2; i < 10; ++i) length = (length << 8) | b(i);
    at = 10;
  }
  if (masked) at += 4;  // a server must not mask; tolerated here, checked by the tests
  if (in_.size() < at + length) return std::nullopt;
  f.payload = in_.substr(at, static_cast<std::size_t>(length));
  if (masked) {
    for (std::size_t i = 0; i < f.payload.size(); ++i) {
      f.payload[i] = static_cast<char>(f.payload[i] ^ in_[at - 4 + i % 4]);
    }
  }
  in_.erase(0, at + static_cast<std::size_t>(length));
  return f;
}

namespace {

// Rounded up: a wait of under a millisecond left is still a wait (rounded down, a 1 ms timeout
// would never read anything).
millis time_left(clock_type::time_point deadline) {
  return std::chrono::ceil<millis>(deadline - clock_type::now());
}

}  // namespace

std::optional<ws_frame> wire_client::next_frame(millis timeout) {
  const auto deadline = clock_type::now() + timeout;
  for (;;) {
    if (auto f = parse_frame()) return f;
    if (!read_more(deadline)) {
      if (auto f = parse_frame()) return f;
      return std::nullopt;
    }
  }
}

std::optional<std::string> wire_client::next_text(millis timeout) {
  const auto deadline = clock_type::now() + timeout;
  std::string message;
  for (;;) {
    const auto left = time_left(deadline);
    if (left.count() <= 0) return std::nullopt;
    auto f = next_frame(left);
    if (!f) {
      if (eof_ && !close_) close_ = close_result{1006, {}};
      return std::nullopt;
    }
    switch (f->opcode) {
      case 0x9:  // ping
        ++pings_;
        if (auto_pong_) send_frame(0xA, f->payload);
        continue;
      case 0xA:
        continue;
      case 0x8: {
        close_result c;
        if (f->payload.size() >= 2) {
          c.code = (static_cast<std::uint8_t>(f->payload[0]) << 8) |
                   static_cast<std::uint8_t>(f->payload[1]);
          c.reason = f->payload.substr(2);
        } else {
          c.code = 1005;
        }
        close_ = c;
        send_close(c.code == 1005 ? 1000 : c.code);
        return std::nullopt;
      }
      default:
        message += f->payload;
        if (f->fin) return message;
    }
  }
}

std::optional<std::string> wire_client::next_of_type(std::string_view type, millis timeout) {
  const auto deadline = clock_type::now() + timeout;
  for (;;) {
    const auto left = time_left(deadline);
    if (left.count() <= 0) return std::nullopt;
    auto text = next_text(left);
    if (!text) return std::nullopt;
    const auto doc = parse_json(*text);
    if (doc.IsObject() && doc.HasMember("type") && doc["type"].IsString() &&
        type == doc["type"].GetString()) {
      return text;
    }
    skipped_.push_back(std::move(*text));
  }
}

std::optional<close_result> wire_client::wait_close(millis timeout) {
  const auto deadline = clock_type::now() + timeout;
  while (!close_) {
    const auto left = time_left(deadline);
    if (left.count() <= 0) return std::nullopt;
    auto text = next_text(left);
    if (text) {
      skipped_.push_back(std::move(*text));
    } else if (!close_ && !eof_) {
      return std::nullopt;  // timed out
    }
  }
  return close_;
}

rapidjson::Document parse_json(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  if (doc.HasParseError()) doc.SetNull();
  return doc;
}

std::string envelope(std::string_view type, std::string_view payload_json,
                     std::string_view message_id, int priority) {
  std::string out = "{\"type\":\"";
  out += type;
  out += "\",\"payload\":";
  out += payload_json;
  if (!message_id.empty()) {
    out += ",\"messageId\":\"";
    out += message_id;
    out += '"';
  }
  if (priority >= 0) out += ",\"priority\":" + std::to_string(priority);
  out += '}';
  return out;
}

}  // namespace rwtest
