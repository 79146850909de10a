// Structured JSON log lines: format, escaping, level filter, sink.

#include "services/common/log.h"

#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace tandem::services {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

const absl::Time kTime = absl::FromUnixMillis(1735787045678);  // 2025-01-02T03:04:05.678Z

TEST(FormatLogLineTest, WritesFixedKeysThenFieldsInOrder) {
  EXPECT_EQ(FormatLogLine(kTime, LogLevel::kInfo, "target", "session_opened", "r-1",
                          {{"session_id", uint64_t{7}},
                           {"prompt_tokens", 12},
                           {"ttl_s", 2.5},
                           {"ok", true},
                           {"note", "hi"}}),
            "{\"ts\":\"2025-01-02T03:04:05.678Z\",\"level\":\"info\",\"component\":\"target\","
            "\"event\":\"session_opened\",\"request_id\":\"r-1\",\"session_id\":7,"
            "\"prompt_tokens\":12,\"ttl_s\":2.5,\"ok\":true,\"note\":\"hi\"}");
}

TEST(FormatLogLineTest, OmitsAnEmptyRequestIdAndRenamesReservedFields) {
  EXPECT_EQ(FormatLogLine(kTime, LogLevel::kWarn, "draft", "e", "", {{"level", "x"}}),
            "{\"ts\":\"2025-01-02T03:04:05.678Z\",\"level\":\"warn\",\"component\":\"draft\","
            "\"event\":\"e\",\"field_level\":\"x\"}");
}

TEST(JsonQuoteTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonQuote("a\"b\\c\nd\te\x01"), "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
  EXPECT_EQ(JsonQuote(std::string("nul\0x", 5)), "\"nul\\u0000x\"");
}

TEST(JsonQuoteTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(JsonQuote("caf\xc3\xa9 \xf0\x9f\x98\x80"), "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
  EXPECT_EQ(JsonQuote("a\xff" "b"), "\"a\\ufffdb\"");
  EXPECT_EQ(JsonQuote("\xc0\xaf"), "\"\\ufffd\\ufffd\"");      // Overlong '/'.
  EXPECT_EQ(JsonQuote("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // Surrogate.
  EXPECT_EQ(JsonQuote("\xe2\x82"), "\"\\ufffd\\ufffd\"");     // Truncated.
}

TEST(LogValueTest, NonFiniteDoublesAreNull) {
  EXPECT_EQ(LogValue(std::nan("")).json(), "null");
  EXPECT_EQ(LogValue(0.125).json(), "0.125");
  EXPECT_EQ(LogValue(int64_t{-3}).json(), "-3");
  EXPECT_EQ(LogValue(false).json(), "false");
}

TEST(ParseLogLevelTest, AcceptsTheFourNames) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("info"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  EXPECT_FALSE(ParseLogLevel("verbose").ok());
}

class LogEventTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SetLogSink([this](absl::string_view line) { lines_.emplace_back(line); });
  }
  void TearDown() override {
    SetLogSink(nullptr);
    SetMinLogLevel(LogLevel::kInfo);
  }
  std::vector<std::string> lines_;
};

TEST_F(LogEventTest, FiltersBelowTheMinimumLevel) {
  SetMinLogLevel(LogLevel::kWarn);
  LogEvent(LogLevel::kInfo, "c", "dropped", "");
  LogEvent(LogLevel::kWarn, "c", "kept", "r");
  LogEvent(LogLevel::kError, "c", "kept_too", "");
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_THAT(lines_[0], MatchesRegex("\\{\"ts\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:"
                                      "[0-9]{2}\\.[0-9]{3}Z\",\"level\":\"warn\".*"));
  EXPECT_THAT(lines_[0], HasSubstr("\"event\":\"kept\",\"request_id\":\"r\"}"));
  EXPECT_THAT(lines_[1], HasSubstr("\"level\":\"error\""));
}

TEST_F(LogEventTest, ConcurrentWritersProduceWholeLines) {
  SetMinLogLevel(LogLevel::kDebug);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 200; ++i) LogEvent(LogLevel::kDebug, "c", "e", "", {{"t", t}, {"i", i}});
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(lines_.size(), 800u);
  for (const std::string& line : lines_) {
    EXPECT_THAT(line, MatchesRegex("\\{.*\"t\":[0-3],\"i\":[0-9]+\\}"));
  }
}

}  // namespace
}  // namespace tandem::services
