#include "tokenizer/jinja/interpreter.h"

#include <unordered_map>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tokenizer/jinja/access.h"
#include "tokenizer/jinja/call_args.h"
#include "tokenizer/jinja/filters.h"
#include "tokenizer/jinja/methods.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/predicates.h"
#include "tokenizer/jinja/py_repr.h"

namespace tandem::tokenizer::jinja {
namespace {

constexpr absl::string_view kLinePrefix = "chat template line ";

// Adds the template line to a runtime error, once.
absl::Status Annotate(const absl::Status& s, int line) {
  if (s.ok() || s.GetPayload(kRaiseExceptionPayload).has_value() ||
      absl::StartsWith(s.message(), kLinePrefix)) {
    return s;
  }
  return absl::Status(s.code(), absl::StrCat(kLinePrefix, line, ": ", s.message()));
}

enum class Flow { kNormal, kBreak, kContinue };

class Interpreter {
 public:
  Interpreter(const std::map<std::string, Value>& variables, const RenderSettings& settings)
      : settings_(settings) {
    scopes_.emplace_back(variables.begin(), variables.end());
  }

  absl::StatusOr<std::string> Run(const Body& body) {
    Flow flow = Flow::kNormal;
    if (auto s = Exec(body, flow); !s.ok()) return s;
    return std::move(out_);
  }

 private:
  using Scope = std::unordered_map<std::string, Value>;

  absl::Status Emit(absl::string_view text) {
    if (out_.size() + text.size() > settings_.max_output_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("chat template output exceeds ", settings_.max_output_bytes, " bytes"));
    }
    out_.append(text.data(), text.size());
    return absl::OkStatus();
  }

  Value Lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto found = it->find(name);
      if (found != it->end()) return found->second;
    }
    return Value::Undefined(absl::StrCat("'", name, "' is undefined"));
  }

  absl::Status Assign(const std::vector<std::string>& targets, const Value& value) {
    if (targets.size() == 1) {
      scopes_.back()[targets[0]] = value;
      return absl::OkStatus();
    }
    if (!value.is_string() && !value.is_list()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot unpack non-iterable ", value.TypeName(), " object"));
    }
    auto items = Iterate(value);
    if (!items.ok()) return items.status();
    if (items->size() != targets.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          items->size() > targets.size() ? "too many" : "not enough", " values to unpack (expected ",
          targets.size(), ", got ", items->size(), ")"));
    }
    for (size_t i = 0; i < targets.size(); ++i) scopes_.back()[targets[i]] = (*items)[i];
    return absl::OkStatus();
  }

  absl::Status Exec(const Body& body, Flow& flow) {
    for (const auto& stmt : body) {
      if (auto s = ExecOne(*stmt, flow); !s.ok()) return Annotate(s, stmt->line);
      if (flow != Flow::kNormal) break;
    }
    return absl::OkStatus();
  }

  absl::Status ExecOne(const Stmt& stmt, Flow& flow) {
    switch (stmt.kind) {
      case StmtKind::kText: return Emit(stmt.text);
      case StmtKind::kOutput: {
        auto v = Eval(*stmt.expr);
        if (!v.ok()) return v.status();
        auto text = PyStr(*v);
        if (!text.ok()) return text.status();
        return Emit(*text);
      }
      case StmtKind::kIf:
        for (const auto& [cond, branch] : stmt.branches) {
          auto v = Eval(*cond);
          if (!v.ok()) return v.status();
          if (Truthy(*v)) return Exec(branch, flow);
        }
        return Exec(stmt.else_body, flow);
      case StmtKind::kFor: return ExecFor(stmt);
      case StmtKind::kSet: return ExecSet(stmt);
      case StmtKind::kSetBlock: {
        std::string saved = std::move(out_);
        out_.clear();
        Flow inner = Flow::kNormal;
        absl::Status s = Exec(stmt.body, inner);
        std::string captured = std::move(out_);
        out_ = std::move(saved);
        if (!s.ok()) return s;
        scopes_.back()[stmt.targets[0]] = Value::String(std::move(captured));
        return absl::OkStatus();
      }
      case StmtKind::kBreak: flow = Flow::kBreak; return absl::OkStatus();
      case StmtKind::kContinue: flow = Flow::kContinue; return absl::OkStatus();
    }
    return absl::InternalError("unknown statement");
  }

  absl::Status ExecSet(const Stmt& stmt) {
    auto v = Eval(*stmt.expr);
    if (!v.ok()) return v.status();
    if (stmt.attr.empty()) return Assign(stmt.targets, *v);
    Value ns = Lookup(stmt.targets[0]);
    if (!ns.is_namespace()) {
      return absl::InvalidArgumentError("cannot assign attribute on non-namespace object");
    }
    ns.dict().Set(Value::String(stmt.attr), std::move(*v));
    return absl::OkStatus();
  }

  absl::Status ExecFor(const Stmt& stmt) {
    auto iterable = Eval(*stmt.expr);
    if (!iterable.ok()) return iterable.status();
    auto all = Iterate(*iterable);
    if (!all.ok()) return all.status();
    std::vector<Value> items;
    for (Value& item : *all) {
      if (stmt.filter != nullptr) {
        scopes_.emplace_back();
        absl::Status s = Assign(stmt.targets, item);
        absl::StatusOr<Value> keep = s.ok() ? Eval(*stmt.filter) : s;
        scopes_.pop_back();
        if (!keep.ok()) return keep.status();
        if (!Truthy(*keep)) continue;
      }
      items.push_back(std::move(item));
    }
    if (items.empty()) {
      Flow flow = Flow::kNormal;
      return Exec(stmt.else_body, flow);
    }
    const int64_t n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      scopes_.emplace_back();
      absl::Status s = Assign(stmt.targets, items[i]);
      scopes_.back()["loop"] = LoopValue(items, i);
      Flow flow = Flow::kNormal;
      if (s.ok()) s = Exec(stmt.body, flow);
      scopes_.pop_back();
      if (!s.ok()) return s;
      if (flow == Flow::kBreak) break;
    }
    return absl::OkStatus();
  }

  static Value LoopValue(const std::vector<Value>& items, int64_t i) {
    const int64_t n = static_cast<int64_t>(items.size());
    Value loop = Value::Dict();
    DictData& d = loop.dict();
    d.Set(Value::String("index"), Value::Int(i + 1));
    d.Set(Value::String("index0"), Value::Int(i));
    d.Set(Value::String("revindex"), Value::Int(n - i));
    d.Set(Value::String("revindex0"), Value::Int(n - i - 1));
    d.Set(Value::String("first"), Value::Bool(i == 0));
    d.Set(Value::String("last"), Value::Bool(i == n - 1));
    d.Set(Value::String("length"), Value::Int(n));
    d.Set(Value::String("depth"), Value::Int(1));
    d.Set(Value::String("depth0"), Value::Int(0));
    if (i > 0) d.Set(Value::String("previtem"), items[i - 1]);
    if (i + 1 < n) d.Set(Value::String("nextitem"), items[i + 1]);
    return loop;
  }

  absl::StatusOr<Value> Eval(const Expr& e) {
    auto v = EvalInner(e);
    if (!v.ok()) return Annotate(v.status(), e.line);
    return v;
  }

  absl::StatusOr<CallArgs> EvalArgs(const Expr& e) {
    CallArgs args;
    for (const auto& a : e.args) {
      auto v = Eval(*a);
      if (!v.ok()) return v.status();
      args.positional.push_back(std::move(*v));
    }
    for (const auto& [name, a] : e.kwargs) {
      auto v = Eval(*a);
      if (!v.ok()) return v.status();
      args.keyword.emplace_back(name, std::move(*v));
    }
    return args;
  }

  absl::StatusOr<Value> EvalInner(const Expr& e) {
    switch (e.kind) {
      case ExprKind::kLiteral: return e.literal;
      case ExprKind::kName: return Lookup(e.name);
      case ExprKind::kList:
      case ExprKind::kTuple: {
        std::vector<Value> items;
        for (const auto& a : e.args) {
          auto v = Eval(*a);
          if (!v.ok()) return v;
          items.push_back(std::move(*v));
        }
        return Value::List(std::move(items),
                           e.kind == ExprKind::kTuple ? ListFlavor::kTuple : ListFlavor::kList);
      }
      case ExprKind::kDict: {
        Value dict = Value::Dict();
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          auto k = Eval(*e.args[i]);
          if (!k.ok()) return k;
          auto v = Eval(*e.args[i + 1]);
          if (!v.ok()) return v;
          dict.dict().Set(std::move(*k), std::move(*v));
        }
        return dict;
      }
      case ExprKind::kGetAttr: {
        auto obj = Eval(*e.target);
        if (!obj.ok()) return obj;
        return GetAttr(*obj, e.name);
      }
      case ExprKind::kGetItem:
      case ExprKind::kSlice: return EvalSubscript(e);
      case ExprKind::kCallGlobal: return CallGlobal(e);
      case ExprKind::kCallMethod: {
        auto obj = Eval(*e.target);
        if (!obj.ok()) return obj;
        auto args = EvalArgs(e);
        if (!args.ok()) return args.status();
        return CallMethod(*obj, e.name, *args);
      }
      case ExprKind::kFilter: {
        auto value = Eval(*e.target);
        if (!value.ok()) return value;
        auto args = EvalArgs(e);
        if (!args.ok()) return args.status();
        return ApplyFilter(e.name, *value, *args);
      }
      case ExprKind::kTest: {
        auto value = Eval(*e.target);
        if (!value.ok()) return value;
        auto args = EvalArgs(e);
        if (!args.ok()) return args.status();
        if (!args->keyword.empty()) return absl::InvalidArgumentError("tests take no keyword arguments");
        auto result = ApplyTest(e.name, *value, args->positional);
        if (!result.ok()) return result.status();
        return Value::Bool(*result != e.negated);
      }
      case ExprKind::kUnary: {
        auto v = Eval(*e.target);
        if (!v.ok()) return v;
        if (e.op == "not") return Value::Bool(!Truthy(*v));
        return UnaryOp(e.op, *v);
      }
      case ExprKind::kBinary: return EvalBinary(e);
      case ExprKind::kCompare: return EvalCompare(e);
      case ExprKind::kCondition: {
        auto cond = Eval(*e.args[1]);
        if (!cond.ok()) return cond;
        if (Truthy(*cond)) return Eval(*e.args[0]);
        if (e.args[2] != nullptr) return Eval(*e.args[2]);
        return Value::Undefined(absl::StrCat("the inline if-expression on line ", e.line,
                                             " evaluated to false and no else section was defined."));
      }
    }
    return absl::InternalError("unknown expression");
  }

  absl::StatusOr<Value> EvalSubscript(const Expr& e) {
    auto obj = Eval(*e.target);
    if (!obj.ok()) return obj;
    std::vector<Value> parts;
    for (const auto& a : e.args) {
      if (a == nullptr) {
        parts.push_back(Value::None());
        continue;
      }
      auto v = Eval(*a);
      if (!v.ok()) return v;
      parts.push_back(std::move(*v));
    }
    if (e.kind == ExprKind::kGetItem) return GetItem(*obj, parts[0]);
    return GetSlice(*obj, parts[0], parts[1], parts[2]);
  }

  absl::StatusOr<Value> EvalBinary(const Expr& e) {
    auto left = Eval(*e.args[0]);
    if (!left.ok()) return left;
    if (e.op == "and") return Truthy(*left) ? Eval(*e.args[1]) : left;
    if (e.op == "or") return Truthy(*left) ? left : Eval(*e.args[1]);
    auto right = Eval(*e.args[1]);
    if (!right.ok()) return right;
    return BinaryOp(e.op, *left, *right, settings_.max_output_bytes);
  }

  absl::StatusOr<Value> EvalCompare(const Expr& e) {
    auto left = Eval(*e.args[0]);
    if (!left.ok()) return left;
    for (size_t i = 0; i < e.ops.size(); ++i) {
      auto right = Eval(*e.args[i + 1]);
      if (!right.ok()) return right;
      const std::string& op = e.ops[i];
      absl::StatusOr<bool> r;
      if (op == "==") {
        r = Equals(*left, *right);
      } else if (op == "!=") {
        r = !Equals(*left, *right);
      } else if (op == "in" || op == "notin") {
        r = ContainsValue(*right, *left);
        if (r.ok() && op == "notin") r = !*r;
      } else {
        r = Less(*left, *right, op);
      }
      if (!r.ok()) return r.status();
      if (!*r) return Value::Bool(false);
      left = std::move(right);
    }
    return Value::Bool(true);
  }

  absl::StatusOr<Value> CallGlobal(const Expr& e) {
    auto args = EvalArgs(e);
    if (!args.ok()) return args.status();
    if (e.name == "raise_exception") {
      auto a = BindArgs(*args, {{"message", std::nullopt}}, e.name);
      if (!a.ok()) return a.status();
      auto message = PyStr((*a)[0]);
      absl::Status s = absl::InvalidArgumentError(message.ok() ? *message : "raise_exception");
      s.SetPayload(kRaiseExceptionPayload, absl::Cord("1"));
      return s;
    }
    if (e.name == "strftime_now") {
      auto a = BindArgs(*args, {{"format", std::nullopt}}, e.name);
      if (!a.ok()) return a.status();
      if (!(*a)[0].is_string()) return absl::InvalidArgumentError("strftime_now needs a format string");
      return Value::String(FormatNow((*a)[0].str()));
    }
    if (e.name == "range") return Range(*args);
    // namespace(...) and dict(...): a mapping argument, then keywords.
    Value out = e.name == "namespace" ? Value::Namespace() : Value::Dict();
    if (args->positional.size() > 1) return absl::InvalidArgumentError(absl::StrCat(e.name, "() takes at most 1 positional argument"));
    if (!args->positional.empty()) {
      const Value& init = args->positional[0];
      if (!init.is_dict()) return absl::InvalidArgumentError(absl::StrCat("unsupported: ", e.name, "() from a ", init.TypeName()));
      for (const auto& [k, v] : init.dict().entries) out.dict().Set(k, v);
    }
    for (const auto& [k, v] : args->keyword) out.dict().Set(Value::String(k), v);
    return out;
  }

  std::string FormatNow(const std::string& format) const {
    std::tm tm{};
    localtime_r(&settings_.now, &tm);
    std::string buffer(256 + format.size() * 16, '\0');
    const size_t n = std::strftime(buffer.data(), buffer.size(), format.c_str(), &tm);
    buffer.resize(n);
    return buffer;
  }

  absl::StatusOr<Value> Range(const CallArgs& args) {
    if (!args.keyword.empty() || args.positional.empty() || args.positional.size() > 3) {
      return absl::InvalidArgumentError("range() takes 1 to 3 positional integers");
    }
    std::vector<int64_t> n;
    for (const Value& v : args.positional) {
      if (v.kind() != ValueKind::kInt && v.kind() != ValueKind::kBool) {
        return absl::InvalidArgumentError(absl::StrCat("'", v.TypeName(), "' object cannot be interpreted as an integer"));
      }
      n.push_back(v.int_value());
    }
    const int64_t start = n.size() == 1 ? 0 : n[0];
    const int64_t stop = n.size() == 1 ? n[0] : n[1];
    const int64_t step = n.size() == 3 ? n[2] : 1;
    if (step == 0) return absl::InvalidArgumentError("range() arg 3 must not be zero");
    std::vector<Value> items;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (static_cast<int64_t>(items.size()) >= settings_.max_range) {
        return absl::ResourceExhaustedError("range() too long");
      }
      items.push_back(Value::Int(i));
      if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
    }
    return Value::List(std::move(items), ListFlavor::kView);
  }

  const RenderSettings& settings_;
  std::vector<Scope> scopes_;
  std::string out_;
};

}  // namespace

absl::StatusOr<std::string> Render(const Body& body, const std::map<std::string, Value>& variables,
                                   const RenderSettings& settings) {
  return Interpreter(variables, settings).Run(body);
}

}  // namespace tandem::tokenizer::jinja
