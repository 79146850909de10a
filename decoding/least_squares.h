#ifndef TANDEM_DECODING_LEAST_SQUARES_H_
#define TANDEM_DECODING_LEAST_SQUARES_H_

namespace tandem::decoding {

// An ordinary least-squares line through points added one by one (the cost
// models' fits: verify time per γ, step time per row count). Not
// thread-safe; a value type.
class LeastSquares {
 public:
  void Add(double x, double y) {
    n_ += 1;
    sx_ += x;
    sy_ += y;
    sxx_ += x * x;
    sxy_ += x * y;
  }
  double count() const { return n_; }
  // 0 without points.
  double mean_x() const { return n_ > 0 ? sx_ / n_ : 0; }
  double mean_y() const { return n_ > 0 ? sy_ / n_ : 0; }
  // Whether the slope is defined: two or more points with distinct x.
  bool has_slope() const { return n_ >= 2 && sxx_ - sx_ * sx_ / n_ > 0; }
  // The fitted slope; only when has_slope().
  double slope() const { return (sxy_ - sx_ * sy_ / n_) / (sxx_ - sx_ * sx_ / n_); }

 private:
  double n_ = 0, sx_ = 0, sy_ = 0, sxx_ = 0, sxy_ = 0;
};

}  // namespace tandem::decoding

#endif  // TANDEM_DECODING_LEAST_SQUARES_H_
