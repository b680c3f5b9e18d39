// Users, roles and passwords: Argon2id through libsodium.
#include <sodium.h>

#include <nlohmann/json.hpp>

#include "clearsight/service.h"

namespace clearsight {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kOfficer:
      return "officer";
    case Role::kAnalyst:
      return "analyst";
    case Role::kTrainer:
      return "trainer";
    case Role::kAdmin:
      return "admin";
    case Role::kIntegrator:
      return "integrator";
  }
  return "officer";
}

Result<Role> ParseRole(std::string_view name) {
  for (Role r : {Role::kOfficer, Role::kAnalyst, Role::kTrainer, Role::kAdmin, Role::kIntegrator})
    if (RoleName(r) == name) return r;
  return Status::InvalidArgument("unknown role '" + std::string(name) +
                                 "' (officer, analyst, trainer, admin or integrator)");
}

Result<std::string> HashPassword(std::string_view password) {
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  if (password.size() < 8)
    return Status::InvalidArgument("the password must have at least 8 characters");
  if (password.size() > 1024)
    return Status::InvalidArgument("the password must have at most 1024 characters");
  char out[crypto_pwhash_STRBYTES];
  // Interactive limits: ~64 MiB and a fraction of a second per login; the hash string records
  // them, so raising them later still verifies old hashes.
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    return Status::ResourceExhausted("not enough memory to hash the password");
  return std::string(out);
}

bool VerifyPassword(std::string_view hash, std::string_view password) {
  if (sodium_init() < 0) return false;
  std::string h(hash);  // NUL-terminated
  return crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
}

namespace {
bool ValidUsername(std::string_view u) {
  if (u.empty() || u.size() > 64) return false;
  for (char c : u)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '@' || c == '-'))
      return false;
  return true;
}
}  // namespace

Status AddUser(Store& store, const std::string& username, Role role, std::string_view password,
               const std::string& actor) {
  if (!ValidUsername(username))
    return Status::InvalidArgument(
        "user name must be 1 to 64 characters of letters, digits and . _ @ -");
  CS_ASSIGN_OR_RETURN(std::string hash, HashPassword(password));
  return store.Write([&](StoreTxn& txn) -> Status {
    CS_ASSIGN_OR_RETURN(auto existing, txn.GetUser(username));
    UserRow u{username, std::string(RoleName(role)), hash, existing && existing->disabled,
              existing ? existing->created_ms : NowMs()};
    CS_RETURN_IF_ERROR(txn.PutUser(u));
    nlohmann::json detail = {{"role", u.role}};
    if (existing) {
      // A new password or role must not leave sessions opened under the old ones.
      CS_ASSIGN_OR_RETURN(int64_t ended, txn.DeleteSessionsOf(username));
      detail["sessions_ended"] = ended;
      if (existing->role != u.role) detail["previous_role"] = existing->role;
    }
    AuditEntry e;
    e.actor = actor;
    e.action = existing ? "user_updated" : "user_created";
    e.subject = username;
    e.detail_json = detail.dump();
    return txn.Audit(&e);
  });
}

Status SetUserDisabled(Store& store, const std::string& username, bool disabled,
                       const std::string& actor) {
  return store.Write([&](StoreTxn& txn) -> Status {
    CS_ASSIGN_OR_RETURN(auto user, txn.GetUser(username));
    if (!user) return Status::NotFound("no user '" + username + "'");
    user->disabled = disabled;
    CS_RETURN_IF_ERROR(txn.PutUser(*user));
    nlohmann::json detail = nlohmann::json::object();
    if (disabled) {
      CS_ASSIGN_OR_RETURN(int64_t ended, txn.DeleteSessionsOf(username));
      detail["sessions_ended"] = ended;
    }
    AuditEntry e;
    e.actor = actor;
    e.action = disabled ? "user_disabled" : "user_enabled";
    e.subject = username;
    e.detail_json = detail.dump();
    return txn.Audit(&e);
  });
}

Result<int64_t> RevokeSessions(Store& store, const std::string& username,
                               const std::string& actor) {
  int64_t ended = 0;
  CS_RETURN_IF_ERROR(store.Write([&](StoreTxn& txn) -> Status {
    CS_ASSIGN_OR_RETURN(auto user, txn.GetUser(username));
    if (!user) return Status::NotFound("no user '" + username + "'");
    CS_ASSIGN_OR_RETURN(ended, txn.DeleteSessionsOf(username));
    AuditEntry e;
    e.actor = actor;
    e.action = "sessions_revoked";
    e.subject = username;
    e.detail_json = nlohmann::json{{"sessions_ended", ended}}.dump();
    return txn.Audit(&e);
  }));
  return ended;
}

}  // namespace clearsight
