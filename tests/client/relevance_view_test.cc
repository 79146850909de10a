#include "client/relevance_view.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "client/relevance_html.h"

namespace tandem::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Prompt "<s> a b", generated " c" (sources: b +2, a -1) and " d".
struct Sequence {
  google::protobuf::RepeatedPtrField<v1::GeneratedToken> prompt, tokens;
};

Sequence Example() {
  Sequence s;
  for (const char* piece : {"<s>", " a", " b"}) s.prompt.Add()->set_piece(piece);
  v1::GeneratedToken* c = s.tokens.Add();
  c->set_piece(" c");
  c->mutable_relevance()->set_position(3);
  auto* top = c->mutable_relevance()->add_top();
  top->set_position(2);
  top->set_score(2.0f);
  top = c->mutable_relevance()->add_top();
  top->set_position(1);
  top->set_score(-1.0f);
  v1::GeneratedToken* d = s.tokens.Add();
  d->set_piece(" d");
  d->mutable_relevance()->set_position(4);
  top = d->mutable_relevance()->add_top();
  top->set_position(3);
  top->set_score(0.5f);
  return s;
}

TEST(RelevanceViewTest, DocumentKeepsPositionsAndSources) {
  const Sequence s = Example();
  absl::StatusOr<RelevanceDocument> d = DocumentOf(s.prompt, s.tokens);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->pieces, ::testing::ElementsAre("<s>", " a", " b", " c", " d"));
  EXPECT_EQ(d->first_generated, 3);
  ASSERT_EQ(d->sources.size(), 2u);
  EXPECT_EQ(d->sources[0][0].position, 2);
  EXPECT_DOUBLE_EQ(d->sources[0][1].score, -1.0);
}

TEST(RelevanceViewTest, StreamRelevanceOverridesTheTokens) {
  Sequence s = Example();
  google::protobuf::RepeatedPtrField<v1::TokenRelevance> relevance;
  for (v1::GeneratedToken& t : s.tokens) *relevance.Add() = t.relevance();
  for (v1::GeneratedToken& t : s.tokens) t.clear_relevance();
  absl::StatusOr<RelevanceDocument> d = DocumentOf(s.prompt, s.tokens, relevance);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->sources[1][0].position, 3);
}

TEST(RelevanceViewTest, RefusesMisplacedRelevance) {
  Sequence s = Example();
  s.tokens[1].mutable_relevance()->set_position(7);
  EXPECT_TRUE(absl::IsInvalidArgument(DocumentOf(s.prompt, s.tokens).status()));
  s = Example();
  s.tokens[0].mutable_relevance()->mutable_top(0)->set_position(3);  // Not before itself.
  EXPECT_TRUE(absl::IsInvalidArgument(DocumentOf(s.prompt, s.tokens).status()));
}

TEST(RelevanceViewTest, PlainTextHasBarsAndNoEscapes) {
  const Sequence s = Example();
  const std::string text = RenderTerminal(*DocumentOf(s.prompt, s.tokens), {.color = false});
  EXPECT_THAT(text, HasSubstr("<s> a b c d\n"));
  // The largest source gets the full bar (5), half of it rounds up to 3.
  EXPECT_THAT(text, HasSubstr("[3]  c <-  [2]  b +2 #####  [1]  a -1 ###\n"));
  EXPECT_THAT(text, HasSubstr("[4]  d <-  [3]  c +0.5 #####\n"));
  EXPECT_THAT(text, Not(HasSubstr("\x1b[")));
}

TEST(RelevanceViewTest, ColourIntensityFollowsTheScore) {
  const Sequence s = Example();
  const std::string text = RenderTerminal(*DocumentOf(s.prompt, s.tokens), {.color = true});
  // +2 (the largest): the darkest red; -1: the middle blue.
  EXPECT_THAT(text, HasSubstr("\x1b[48;5;196;38;5;231m[2]  b +2\x1b[0m"));
  EXPECT_THAT(text, HasSubstr("\x1b[48;5;111;38;5;16m[1]  a -1\x1b[0m"));
  EXPECT_THAT(text, HasSubstr("\x1b[4m c\x1b[0m"));  // Generated text underlined.
}

TEST(RelevanceViewTest, IntensityLevels) {
  EXPECT_EQ(IntensityLevel(0, 1, 5), 0);
  EXPECT_EQ(IntensityLevel(0.01, 1, 5), 0);
  EXPECT_EQ(IntensityLevel(0.21, 1, 5), 1);
  EXPECT_EQ(IntensityLevel(-1, 1, 5), 4);
  EXPECT_EQ(IntensityLevel(3, 0, 5), 0);
}

TEST(RelevanceViewTest, DisplayPieceIsPrintableUtf8) {
  EXPECT_EQ(DisplayPiece("a\nb\tc"), "a\\nb\\tc");
  EXPECT_EQ(DisplayPiece("\xC3\xA9"), "\xC3\xA9");       // é kept.
  EXPECT_EQ(DisplayPiece("\xC3"), "\xEF\xBF\xBD");       // Half a character.
  EXPECT_EQ(DisplayPiece(std::string("\x01", 1)), "\xEF\xBF\xBD");
}

TEST(RelevanceHtmlTest, SelfContainedAndEscaped) {
  Sequence s = Example();
  s.prompt[1].set_piece("<b>&");
  const std::string html = RenderHtml(*DocumentOf(s.prompt, s.tokens), "t<i>");
  EXPECT_THAT(html, HasSubstr("&lt;b&gt;&amp;"));
  EXPECT_THAT(html, HasSubstr("<title>t&lt;i&gt;</title>"));
  EXPECT_THAT(html, Not(HasSubstr("<b>&")));
  EXPECT_THAT(html, Not(HasSubstr("http")));  // Nothing fetched.
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, HasSubstr("const SOURCES = [[],[],[],[[2,2],[1,-1]],[[3,0.5]]];"));
  EXPECT_THAT(html, HasSubstr("class=\"tok gen\" id=\"t3\""));
}

}  // namespace
}  // namespace tandem::client
