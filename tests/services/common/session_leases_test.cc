#include "services/common/session_leases.h"

#include <gtest/gtest.h>

namespace tandem::services {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1000);

TEST(SessionLeasesTest, ExpiresIdleSessionsOnly) {
  SessionLeases leases;
  leases.Renew(1, absl::Seconds(10), kT0);
  leases.Renew(2, absl::Seconds(30), kT0);
  EXPECT_EQ(leases.TakeExpired(kT0 + absl::Seconds(20)), std::vector<uint64_t>{1});
  EXPECT_EQ(leases.size(), 1u);
}

TEST(SessionLeasesTest, RenewIfPresentExtendsKnownSessionsAndIgnoresUnknownOnes) {
  SessionLeases leases;
  leases.Renew(1, absl::Seconds(10), kT0);
  leases.RenewIfPresent(1, absl::Seconds(10), kT0 + absl::Seconds(8));
  leases.RenewIfPresent(99, absl::Seconds(10), kT0);
  EXPECT_EQ(leases.size(), 1u);
  EXPECT_TRUE(leases.TakeExpired(kT0 + absl::Seconds(12)).empty());
  EXPECT_EQ(leases.TakeExpired(kT0 + absl::Seconds(18)), std::vector<uint64_t>{1});
}

}  // namespace
}  // namespace tandem::services
