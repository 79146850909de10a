#include "tokenizer/jinja/parser.h"

#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tokenizer/jinja/builtins.h"

namespace tandem::tokenizer::jinja {
namespace {

constexpr int kMaxDepth = 100;

using ExprPtr = std::unique_ptr<Expr>;

ExprPtr MakeExpr(ExprKind kind, int line) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->line = line;
  return e;
}

bool IsCompareOp(const Token& t) {
  static const std::set<std::string> kOps = {"==", "!=", "<", "<=", ">", ">="};
  return t.type == TokenType::kOperator && kOps.count(t.text) > 0;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  absl::StatusOr<Body> ParseTemplate() {
    Body body;
    std::string end;
    if (auto s = ParseBody({}, body, end); !s.ok()) return s;
    return body;
  }

 private:
  const Token& Cur() const { return tokens_[pos_]; }
  const Token& Peek() const { return tokens_[std::min(pos_ + 1, tokens_.size() - 1)]; }
  void Next() {
    if (pos_ + 1 < tokens_.size()) ++pos_;
  }
  bool IsOp(absl::string_view op) const {
    return Cur().type == TokenType::kOperator && Cur().text == op;
  }
  bool IsName(absl::string_view name) const {
    return Cur().type == TokenType::kName && Cur().text == name;
  }
  absl::Status Fail(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat("chat template line ", Cur().line, ": ", what));
  }
  static std::string Describe(const Token& t) {
    switch (t.type) {
      case TokenType::kEnd: return "end of template";
      case TokenType::kVariableEnd: return "'}}'";
      case TokenType::kBlockEnd: return "'%}'";
      case TokenType::kData: return "template data";
      case TokenType::kString: return "a string";
      default: return absl::StrCat("'", t.text, "'");
    }
  }
  absl::Status Unexpected() const { return Fail(absl::StrCat("unexpected ", Describe(Cur()))); }
  absl::Status ExpectOp(absl::string_view op) {
    if (!IsOp(op)) return Fail(absl::StrCat("expected '", op, "', got ", Describe(Cur())));
    Next();
    return absl::OkStatus();
  }
  absl::Status Expect(TokenType type, absl::string_view what) {
    if (Cur().type != type) return Fail(absl::StrCat("expected ", what, ", got ", Describe(Cur())));
    Next();
    return absl::OkStatus();
  }
  absl::Status Enter() {
    if (++depth_ > kMaxDepth) return Fail("template nested too deeply");
    return absl::OkStatus();
  }

  // ---- statements ----

  // Parses until a block tag named in `ends` (left at its name, in `end`).
  absl::Status ParseBody(const std::set<std::string>& ends, Body& body, std::string& end) {
    if (auto s = Enter(); !s.ok()) return s;
    while (true) {
      const Token& t = Cur();
      if (t.type == TokenType::kEnd) {
        if (ends.empty()) break;
        return Fail(absl::StrCat("unexpected end of template, expected '", *ends.rbegin(), "'"));
      }
      if (t.type == TokenType::kData) {
        auto stmt = std::make_unique<Stmt>();
        stmt->kind = StmtKind::kText;
        stmt->line = t.line;
        stmt->text = t.text;
        body.push_back(std::move(stmt));
        Next();
      } else if (t.type == TokenType::kVariableBegin) {
        Next();
        auto stmt = std::make_unique<Stmt>();
        stmt->kind = StmtKind::kOutput;
        stmt->line = t.line;
        auto expr = ParseTuple(true, {});
        if (!expr.ok()) return expr.status();
        if (auto s = Expect(TokenType::kVariableEnd, "'}}'"); !s.ok()) return s;
        // `safe` marks a string as already escaped; printing it is printing it.
        while ((*expr)->kind == ExprKind::kFilter && (*expr)->name == "safe") {
          *expr = std::move((*expr)->target);
        }
        stmt->expr = std::move(*expr);
        body.push_back(std::move(stmt));
      } else if (t.type == TokenType::kBlockBegin) {
        Next();
        if (Cur().type == TokenType::kName && ends.count(Cur().text) > 0) {
          end = Cur().text;
          --depth_;
          return absl::OkStatus();
        }
        if (auto s = ParseStatement(body); !s.ok()) return s;
      } else {
        return Unexpected();
      }
    }
    --depth_;
    return absl::OkStatus();
  }

  absl::Status ParseStatement(Body& body) {
    if (Cur().type != TokenType::kName) return Fail("expected a statement name after '{%'");
    const std::string name = Cur().text;
    const int line = Cur().line;
    auto stmt = std::make_unique<Stmt>();
    stmt->line = line;
    Next();
    absl::Status s;
    if (name == "if") {
      s = ParseIf(*stmt);
    } else if (name == "for") {
      s = ParseFor(*stmt);
    } else if (name == "set") {
      s = ParseSet(*stmt);
    } else if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) return Fail(absl::StrCat("'", name, "' outside of a for loop"));
      stmt->kind = name == "break" ? StmtKind::kBreak : StmtKind::kContinue;
      s = Expect(TokenType::kBlockEnd, "'%}'");
    } else if (name == "generation") {
      // Hugging Face's AssistantTracker: the body renders as is.
      if (s = Expect(TokenType::kBlockEnd, "'%}'"); !s.ok()) return s;
      std::string end;
      if (s = ParseBody({"endgeneration"}, body, end); !s.ok()) return s;
      Next();
      return Expect(TokenType::kBlockEnd, "'%}'");
    } else if (name.rfind("end", 0) == 0 || name == "elif" || name == "else") {
      return absl::InvalidArgumentError(
          absl::StrCat("chat template line ", line, ": unexpected '{% ", name, " %}'"));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "chat template line ", line, ": unsupported construct '{% ", name,
          " %}' (tandem implements if, for, set, break, continue, generation)"));
    }
    if (!s.ok()) return s;
    body.push_back(std::move(stmt));
    return absl::OkStatus();
  }

  absl::Status ParseIf(Stmt& stmt) {
    stmt.kind = StmtKind::kIf;
    while (true) {
      auto cond = ParseTuple(false, {});
      if (!cond.ok()) return cond.status();
      if (auto s = Expect(TokenType::kBlockEnd, "'%}'"); !s.ok()) return s;
      Body body;
      std::string end;
      if (auto s = ParseBody({"elif", "else", "endif"}, body, end); !s.ok()) return s;
      Next();
      stmt.branches.emplace_back(std::move(*cond), std::move(body));
      if (end == "elif") continue;
      if (end == "else") {
        if (auto s = Expect(TokenType::kBlockEnd, "'%}'"); !s.ok()) return s;
        if (auto s = ParseBody({"endif"}, stmt.else_body, end); !s.ok()) return s;
        Next();
      }
      return Expect(TokenType::kBlockEnd, "'%}'");
    }
  }

  absl::Status ParseTargets(std::vector<std::string>& targets, bool allow_attr,
                            std::string* attr) {
    const bool paren = IsOp("(");
    if (paren) Next();
    while (true) {
      if (Cur().type != TokenType::kName) return Fail("expected a variable name to assign to");
      targets.push_back(Cur().text);
      Next();
      if (allow_attr && targets.size() == 1 && !paren && IsOp(".")) {
        Next();
        if (Cur().type != TokenType::kName) return Fail("expected an attribute name");
        *attr = Cur().text;
        Next();
        return absl::OkStatus();
      }
      if (!IsOp(",")) break;
      Next();
      if (paren && IsOp(")")) break;
    }
    return paren ? ExpectOp(")") : absl::OkStatus();
  }

  absl::Status ParseFor(Stmt& stmt) {
    stmt.kind = StmtKind::kFor;
    if (auto s = ParseTargets(stmt.targets, false, nullptr); !s.ok()) return s;
    if (!IsName("in")) return Fail("expected 'in' in a for loop");
    Next();
    auto iter = ParseTuple(false, {"recursive", "if"});
    if (!iter.ok()) return iter.status();
    stmt.expr = std::move(*iter);
    if (IsName("if")) {
      Next();
      auto filter = ParseTuple(true, {"recursive"});
      if (!filter.ok()) return filter.status();
      stmt.filter = std::move(*filter);
    }
    if (IsName("recursive")) return Fail("unsupported construct: recursive for loops");
    if (auto s = Expect(TokenType::kBlockEnd, "'%}'"); !s.ok()) return s;
    ++loop_depth_;
    std::string end;
    auto s = ParseBody({"else", "endfor"}, stmt.body, end);
    --loop_depth_;
    if (!s.ok()) return s;
    Next();
    if (end == "else") {
      if (s = Expect(TokenType::kBlockEnd, "'%}'"); !s.ok()) return s;
      const int saved = loop_depth_;
      loop_depth_ = 0;  // break/continue in a loop's else leave an outer loop: unsupported
      s = ParseBody({"endfor"}, stmt.else_body, end);
      loop_depth_ = saved;
      if (!s.ok()) return s;
      Next();
    }
    return Expect(TokenType::kBlockEnd, "'%}'");
  }

  absl::Status ParseSet(Stmt& stmt) {
    if (auto s = ParseTargets(stmt.targets, true, &stmt.attr); !s.ok()) return s;
    if (IsOp("=")) {
      Next();
      stmt.kind = StmtKind::kSet;
      auto value = ParseTuple(true, {});
      if (!value.ok()) return value.status();
      stmt.expr = std::move(*value);
      return Expect(TokenType::kBlockEnd, "'%}'");
    }
    if (stmt.targets.size() != 1 || !stmt.attr.empty()) {
      return Fail("a block set assigns one plain variable");
    }
    if (IsOp("|")) return Fail("unsupported construct: filtered block set");
    stmt.kind = StmtKind::kSetBlock;
    if (auto s = Expect(TokenType::kBlockEnd, "'%}'"); !s.ok()) return s;
    std::string end;
    if (auto s = ParseBody({"endset"}, stmt.body, end); !s.ok()) return s;
    Next();
    return Expect(TokenType::kBlockEnd, "'%}'");
  }

  // ---- expressions (jinja2's Parser, method for method) ----

  bool IsTupleEnd(const std::set<std::string>& extra_ends) const {
    const Token& t = Cur();
    if (t.type == TokenType::kVariableEnd || t.type == TokenType::kBlockEnd || IsOp(")")) {
      return true;
    }
    return t.type == TokenType::kName && extra_ends.count(t.text) > 0;
  }

  absl::StatusOr<ExprPtr> ParseTuple(bool with_condexpr, const std::set<std::string>& extra_ends,
                                     bool explicit_parentheses = false) {
    const int line = Cur().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) {
        if (auto s = ExpectOp(","); !s.ok()) return s;
      }
      if (IsTupleEnd(extra_ends)) break;
      auto item = with_condexpr ? ParseExpression() : ParseOr();
      if (!item.ok()) return item.status();
      items.push_back(std::move(*item));
      if (IsOp(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parentheses) return Fail(absl::StrCat("expected an expression, got ", Describe(Cur())));
    }
    auto tuple = MakeExpr(ExprKind::kTuple, line);
    tuple->args = std::move(items);
    return tuple;
  }

  absl::StatusOr<ExprPtr> ParseExpression() {
    if (auto s = Enter(); !s.ok()) return s;
    const int line = Cur().line;
    auto expr = ParseOr();
    if (!expr.ok()) return expr;
    while (IsName("if")) {
      Next();
      auto cond = ParseOr();
      if (!cond.ok()) return cond;
      ExprPtr otherwise;
      if (IsName("else")) {
        Next();
        auto e = ParseExpression();
        if (!e.ok()) return e;
        otherwise = std::move(*e);
      }
      auto node = MakeExpr(ExprKind::kCondition, line);
      node->args.push_back(std::move(*expr));
      node->args.push_back(std::move(*cond));
      node->args.push_back(std::move(otherwise));
      *expr = std::move(node);
    }
    --depth_;
    return expr;
  }

  ExprPtr Binary(absl::string_view op, ExprPtr left, ExprPtr right, int line) {
    auto node = MakeExpr(ExprKind::kBinary, line);
    node->op = std::string(op);
    node->args.push_back(std::move(left));
    node->args.push_back(std::move(right));
    return node;
  }

  absl::StatusOr<ExprPtr> ParseOr() { return ParseBoolean("or", &Parser::ParseAnd); }
  absl::StatusOr<ExprPtr> ParseAnd() { return ParseBoolean("and", &Parser::ParseNot); }

  absl::StatusOr<ExprPtr> ParseBoolean(absl::string_view op,
                                       absl::StatusOr<ExprPtr> (Parser::*operand)()) {
    const int line = Cur().line;
    auto left = (this->*operand)();
    if (!left.ok()) return left;
    while (IsName(op)) {
      Next();
      auto right = (this->*operand)();
      if (!right.ok()) return right;
      *left = Binary(op, std::move(*left), std::move(*right), line);
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParseNot() {
    if (!IsName("not")) return ParseCompare();
    const int line = Cur().line;
    Next();
    if (auto s = Enter(); !s.ok()) return s;
    auto operand = ParseNot();
    --depth_;
    if (!operand.ok()) return operand;
    auto node = MakeExpr(ExprKind::kUnary, line);
    node->op = "not";
    node->target = std::move(*operand);
    return node;
  }

  absl::StatusOr<ExprPtr> ParseCompare() {
    const int line = Cur().line;
    auto first = ParseMath1();
    if (!first.ok()) return first;
    auto node = MakeExpr(ExprKind::kCompare, line);
    node->args.push_back(std::move(*first));
    while (true) {
      std::string op;
      if (IsCompareOp(Cur())) {
        op = Cur().text;
        Next();
      } else if (IsName("in")) {
        op = "in";
        Next();
      } else if (IsName("not") && Peek().type == TokenType::kName && Peek().text == "in") {
        op = "notin";
        Next();
        Next();
      } else {
        break;
      }
      auto operand = ParseMath1();
      if (!operand.ok()) return operand;
      node->ops.push_back(op);
      node->args.push_back(std::move(*operand));
    }
    if (node->ops.empty()) return std::move(node->args[0]);
    return node;
  }

  absl::StatusOr<ExprPtr> ParseLeftAssoc(const std::set<std::string>& ops,
                                         absl::StatusOr<ExprPtr> (Parser::*operand)()) {
    const int line = Cur().line;
    auto left = (this->*operand)();
    if (!left.ok()) return left;
    while (Cur().type == TokenType::kOperator && ops.count(Cur().text) > 0) {
      const std::string op = Cur().text;
      Next();
      auto right = (this->*operand)();
      if (!right.ok()) return right;
      *left = Binary(op, std::move(*left), std::move(*right), line);
    }
    return left;
  }

  absl::StatusOr<ExprPtr> ParseMath1() { return ParseLeftAssoc({"+", "-"}, &Parser::ParseConcat); }
  absl::StatusOr<ExprPtr> ParseConcat() { return ParseLeftAssoc({"~"}, &Parser::ParseMath2); }
  absl::StatusOr<ExprPtr> ParseMath2() {
    return ParseLeftAssoc({"*", "/", "//", "%"}, &Parser::ParsePow);
  }
  absl::StatusOr<ExprPtr> ParsePow() { return ParseLeftAssoc({"**"}, &Parser::ParseUnaryFiltered); }
  absl::StatusOr<ExprPtr> ParseUnaryFiltered() { return ParseUnary(true); }

  absl::StatusOr<ExprPtr> ParseUnary(bool with_filter) {
    if (auto s = Enter(); !s.ok()) return s;
    const int line = Cur().line;
    absl::StatusOr<ExprPtr> node;
    if (IsOp("-") || IsOp("+")) {
      const std::string op = Cur().text;
      Next();
      auto operand = ParseUnary(false);
      if (!operand.ok()) return operand;
      node = MakeExpr(ExprKind::kUnary, line);
      (*node)->op = op;
      (*node)->target = std::move(*operand);
    } else {
      node = ParsePrimary();
    }
    if (node.ok()) node = ParseSuffixes(std::move(*node), false);
    if (node.ok() && with_filter) node = ParseSuffixes(std::move(*node), true);
    --depth_;
    return node;
  }

  absl::StatusOr<ExprPtr> ParsePrimary() {
    const Token& t = Cur();
    auto node = MakeExpr(ExprKind::kLiteral, t.line);
    switch (t.type) {
      case TokenType::kName:
        if (t.text == "true" || t.text == "True" || t.text == "false" || t.text == "False") {
          node->literal = Value::Bool(t.text[0] == 't' || t.text[0] == 'T');
        } else if (t.text == "none" || t.text == "None") {
          node->literal = Value::None();
        } else {
          node->kind = ExprKind::kName;
          node->name = t.text;
        }
        Next();
        return node;
      case TokenType::kString: {
        std::string text;
        while (Cur().type == TokenType::kString) {
          text += Cur().text;
          Next();
        }
        node->literal = Value::String(std::move(text));
        return node;
      }
      case TokenType::kInteger:
        node->literal = Value::Int(t.integer);
        Next();
        return node;
      case TokenType::kFloat:
        node->literal = Value::Float(t.number);
        Next();
        return node;
      default: break;
    }
    if (IsOp("(")) {
      Next();
      auto inner = ParseTuple(true, {}, true);
      if (!inner.ok()) return inner;
      if (auto s = ExpectOp(")"); !s.ok()) return s;
      return inner;
    }
    if (IsOp("[") || IsOp("{")) return ParseListOrDict(IsOp("{"));
    return Unexpected();
  }

  absl::StatusOr<ExprPtr> ParseListOrDict(bool dict) {
    auto node = MakeExpr(dict ? ExprKind::kDict : ExprKind::kList, Cur().line);
    const char* close = dict ? "}" : "]";
    Next();
    while (!IsOp(close)) {
      if (!node->args.empty()) {
        if (auto s = ExpectOp(","); !s.ok()) return s;
        if (IsOp(close)) break;
      }
      auto item = ParseExpression();
      if (!item.ok()) return item;
      node->args.push_back(std::move(*item));
      if (dict) {
        if (auto s = ExpectOp(":"); !s.ok()) return s;
        auto value = ParseExpression();
        if (!value.ok()) return value;
        node->args.push_back(std::move(*value));
      }
    }
    Next();
    return node;
  }

  // jinja2's parse_postfix (attributes, subscripts, calls) or, with
  // `filters`, its parse_filter_expr (filters, tests, calls).
  absl::StatusOr<ExprPtr> ParseSuffixes(ExprPtr node, bool filters) {
    while (true) {
      absl::StatusOr<ExprPtr> next = std::move(node);
      if (!filters && (IsOp(".") || IsOp("["))) {
        next = ParseSubscript(std::move(*next));
      } else if (filters && IsOp("|")) {
        next = ParseFilter(std::move(*next));
      } else if (filters && IsName("is")) {
        next = ParseTest(std::move(*next));
      } else if (IsOp("(")) {
        next = ParseCall(std::move(*next));
      } else {
        return next;
      }
      if (!next.ok()) return next;
      node = std::move(*next);
    }
  }

  absl::StatusOr<ExprPtr> ParseSubscript(ExprPtr target) {
    const int line = Cur().line;
    if (IsOp(".")) {
      Next();
      if (Cur().type == TokenType::kName) {
        auto node = MakeExpr(ExprKind::kGetAttr, line);
        node->name = Cur().text;
        node->target = std::move(target);
        Next();
        return node;
      }
      if (Cur().type != TokenType::kInteger) return Fail("expected a name or number after '.'");
      auto node = MakeExpr(ExprKind::kGetItem, line);
      node->target = std::move(target);
      auto index = MakeExpr(ExprKind::kLiteral, line);
      index->literal = Value::Int(Cur().integer);
      node->args.push_back(std::move(index));
      Next();
      return node;
    }
    Next();  // '['
    std::vector<ExprPtr> parts;  // start, stop, step for a slice
    bool slice = false;
    if (!IsOp(":")) {
      auto first = ParseExpression();
      if (!first.ok()) return first;
      parts.push_back(std::move(*first));
    } else {
      parts.push_back(nullptr);
    }
    if (IsOp(":")) {
      slice = true;
      Next();
      for (int i = 0; i < 2; ++i) {
        if (i == 1) {
          if (!IsOp(":")) {
            parts.push_back(nullptr);
            break;
          }
          Next();
        }
        if (IsOp("]") || IsOp(",") || IsOp(":")) {
          parts.push_back(nullptr);
        } else {
          auto bound = ParseExpression();
          if (!bound.ok()) return bound;
          parts.push_back(std::move(*bound));
        }
      }
    }
    if (IsOp(",")) return Fail("unsupported construct: subscript with several indices");
    if (auto s = ExpectOp("]"); !s.ok()) return s;
    auto node = MakeExpr(slice ? ExprKind::kSlice : ExprKind::kGetItem, line);
    node->target = std::move(target);
    node->args = std::move(parts);
    return node;
  }

  absl::Status ParseCallArgs(Expr& node) {
    if (auto s = ExpectOp("("); !s.ok()) return s;
    while (!IsOp(")")) {
      if (!node.args.empty() || !node.kwargs.empty()) {
        if (auto s = ExpectOp(","); !s.ok()) return s;
        if (IsOp(")")) break;
      }
      if (IsOp("*") || IsOp("**")) return Fail("unsupported construct: *args / **kwargs in a call");
      if (Cur().type == TokenType::kName && Peek().type == TokenType::kOperator &&
          Peek().text == "=") {
        const std::string key = Cur().text;
        Next();
        Next();
        auto value = ParseExpression();
        if (!value.ok()) return value.status();
        node.kwargs.emplace_back(key, std::move(*value));
        continue;
      }
      if (!node.kwargs.empty()) return Fail("positional argument after a keyword argument");
      auto value = ParseExpression();
      if (!value.ok()) return value.status();
      node.args.push_back(std::move(*value));
    }
    Next();
    return absl::OkStatus();
  }

  absl::StatusOr<ExprPtr> ParseCall(ExprPtr callee) {
    const int line = Cur().line;
    ExprPtr node;
    if (callee->kind == ExprKind::kName && IsGlobalFunction(callee->name)) {
      node = MakeExpr(ExprKind::kCallGlobal, line);
      node->name = callee->name;
    } else if (callee->kind == ExprKind::kGetAttr && IsMethod(callee->name)) {
      node = MakeExpr(ExprKind::kCallMethod, line);
      node->name = callee->name;
      node->target = std::move(callee->target);
    } else if (callee->kind == ExprKind::kName) {
      return Fail(absl::StrCat("unsupported function '", callee->name,
                               "' (macros and other callables are not implemented)"));
    } else if (callee->kind == ExprKind::kGetAttr) {
      return Fail(absl::StrCat("unsupported method '", callee->name, "'"));
    } else {
      return Fail("unsupported call of an expression");
    }
    if (auto s = ParseCallArgs(*node); !s.ok()) return s;
    return node;
  }

  absl::StatusOr<ExprPtr> ParseFilter(ExprPtr target) {
    Next();  // '|'
    const int line = Cur().line;
    if (Cur().type != TokenType::kName) return Fail("expected a filter name after '|'");
    auto node = MakeExpr(ExprKind::kFilter, line);
    node->name = Cur().text;
    node->target = std::move(target);
    Next();
    if (IsOp(".")) return Fail("unsupported construct: dotted filter name");
    if (!IsFilter(node->name)) {
      return absl::InvalidArgumentError(absl::StrCat("chat template line ", line,
                                                     ": unsupported filter '", node->name, "'"));
    }
    if (IsOp("(")) {
      if (auto s = ParseCallArgs(*node); !s.ok()) return s;
    }
    if (auto s = CheckNamedArgument(*node); !s.ok()) return s;
    return node;
  }

  // Filters that take a filter or test by name (map, select, selectattr...):
  // the name must be a literal this implementation knows.
  absl::Status CheckNamedArgument(const Expr& node) {
    const int index = FilterNamedArgumentIndex(node.name, node.args.size(), !node.kwargs.empty());
    if (index < 0) return absl::OkStatus();
    const Expr& arg = *node.args[index];
    if (arg.kind != ExprKind::kLiteral || !arg.literal.is_string()) {
      return Fail(absl::StrCat("'", node.name, "' needs a literal test or filter name"));
    }
    const bool is_filter = node.name == "map";
    if (is_filter ? !IsFilter(arg.literal.str()) : !IsTest(arg.literal.str())) {
      return Fail(absl::StrCat("unsupported ", is_filter ? "filter '" : "test '",
                               arg.literal.str(), "' in '", node.name, "'"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<ExprPtr> ParseTest(ExprPtr target) {
    Next();  // 'is'
    const int line = Cur().line;
    auto node = MakeExpr(ExprKind::kTest, line);
    node->target = std::move(target);
    if (IsName("not")) {
      node->negated = true;
      Next();
    }
    if (Cur().type != TokenType::kName) return Fail("expected a test name after 'is'");
    node->name = Cur().text;
    Next();
    if (!IsTest(node->name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("chat template line ", line, ": unsupported test '", node->name, "'"));
    }
    if (node->target->kind == ExprKind::kName && IsGlobalFunction(node->target->name) &&
        (node->name == "defined" || node->name == "undefined")) {
      // `strftime_now is defined`: the globals always are.
      auto folded = MakeExpr(ExprKind::kLiteral, line);
      folded->literal = Value::Bool((node->name == "defined") != node->negated);
      return folded;
    }
    const Token& t = Cur();
    const bool arg_start =
        t.type == TokenType::kName || t.type == TokenType::kString ||
        t.type == TokenType::kInteger || t.type == TokenType::kFloat || IsOp("[") || IsOp("{");
    if (IsOp("(")) {
      if (auto s = ParseCallArgs(*node); !s.ok()) return s;
    } else if (arg_start && !IsName("else") && !IsName("or") && !IsName("and")) {
      if (IsName("is")) return Fail("cannot chain multiple tests with 'is'");
      auto arg = ParsePrimary();
      if (arg.ok()) arg = ParseSuffixes(std::move(*arg), false);
      if (!arg.ok()) return arg;
      node->args.push_back(std::move(*arg));
    }
    return node;
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

// Constructs only checkable once an expression is complete:
//  - `safe` makes a Markup string, which escapes what is later added to it:
//    only allowed (and then a no-op) as the outermost filter of a {{ }};
//  - a global function used as a value (other than `f is defined`).
absl::Status CheckExpr(const Expr* e) {
  if (e == nullptr) return absl::OkStatus();
  if (e->kind == ExprKind::kFilter && e->name == "safe") {
    return absl::InvalidArgumentError(absl::StrCat(
        "chat template line ", e->line,
        ": unsupported use of the filter 'safe' (only as the last filter of a {{ }})"));
  }
  if (e->kind == ExprKind::kName && IsGlobalFunction(e->name)) {
    return absl::InvalidArgumentError(absl::StrCat("chat template line ", e->line,
                                                   ": unsupported use of the function '", e->name,
                                                   "' without calling it"));
  }
  if (auto s = CheckExpr(e->target.get()); !s.ok()) return s;
  for (const auto& a : e->args) {
    if (auto s = CheckExpr(a.get()); !s.ok()) return s;
  }
  for (const auto& [k, v] : e->kwargs) {
    if (auto s = CheckExpr(v.get()); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CheckBody(const Body& body) {
  for (const auto& s : body) {
    if (auto st = CheckExpr(s->expr.get()); !st.ok()) return st;
    if (auto st = CheckExpr(s->filter.get()); !st.ok()) return st;
    for (const auto& [cond, branch] : s->branches) {
      if (auto st = CheckExpr(cond.get()); !st.ok()) return st;
      if (auto st = CheckBody(branch); !st.ok()) return st;
    }
    if (auto st = CheckBody(s->body); !st.ok()) return st;
    if (auto st = CheckBody(s->else_body); !st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Body> Parse(std::vector<Token> tokens) {
  auto body = Parser(std::move(tokens)).ParseTemplate();
  if (!body.ok()) return body;
  if (auto s = CheckBody(*body); !s.ok()) return s;
  return body;
}

}  // namespace tandem::tokenizer::jinja
