#ifndef TANDEM_TOKENIZER_JINJA_AST_H_
#define TANDEM_TOKENIZER_JINJA_AST_H_

// The syntax tree the parser builds and the interpreter walks. Only
// constructs the interpreter implements exist here: anything else is
// rejected by the parser, so a tree that parsed renders or fails with an
// error, never with a guess.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace tandem::tokenizer::jinja {

enum class ExprKind {
  kLiteral,     // literal
  kName,        // name
  kList,        // args = items
  kTuple,       // args = items
  kDict,        // args = key0, value0, key1, value1, ...
  kGetAttr,     // target.name
  kGetItem,     // target[args[0]]
  kSlice,       // target[args[0]:args[1]:args[2]], each may be null
  kCallGlobal,  // name(args, kwargs): range, namespace, dict, raise_exception, strftime_now
  kCallMethod,  // target.name(args, kwargs)
  kFilter,      // target | name(args, kwargs)
  kTest,        // target is [not] name(args)
  kUnary,       // op target: "-", "+", "not"
  kBinary,      // args[0] op args[1]: + - * / // % ** ~ and or
  kCompare,     // args[0] ops[0] args[1] ops[1] args[2] ...: == != < <= > >= in notin
  kCondition,   // args[0] if args[1] else args[2] (args[2] may be null)
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  int line = 0;
  Value literal;
  std::string name;
  std::string op;
  std::vector<std::string> ops;
  bool negated = false;
  std::unique_ptr<Expr> target;
  std::vector<std::unique_ptr<Expr>> args;
  std::vector<std::pair<std::string, std::unique_ptr<Expr>>> kwargs;
};

enum class StmtKind {
  kText,      // text
  kOutput,    // {{ expr }}
  kIf,        // branches: (condition, body)...; else_body
  kFor,       // for targets in expr [if filter]: body [else: else_body]
  kSet,       // set targets = expr, or set targets[0].attr = expr
  kSetBlock,  // set targets[0] %}body{% endset
  kBreak,
  kContinue,
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
  StmtKind kind = StmtKind::kText;
  int line = 0;
  std::string text;
  std::unique_ptr<Expr> expr;
  std::unique_ptr<Expr> filter;
  std::vector<std::string> targets;
  std::string attr;  // kSet on a namespace attribute
  std::vector<std::pair<std::unique_ptr<Expr>, Body>> branches;
  Body body;
  Body else_body;
};

}  // namespace tandem::tokenizer::jinja

#endif  // TANDEM_TOKENIZER_JINJA_AST_H_
