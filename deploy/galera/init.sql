-- HAProxy's `option mysql-check user haproxy`: a login without a password and without privileges.
CREATE USER IF NOT EXISTS 'haproxy'@'%';
